// Plain single-threaded computations the tests compare the engine with.
#pragma once

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace oracle {

inline std::map<std::string, int64_t> word_counts(const std::vector<std::string>& lines) {
  std::map<std::string, int64_t> counts;
  // Split independently of the engine's split_words: stream extraction
  // splits on the same ASCII whitespace in the C locale.
  for (const auto& line : lines) {
    std::istringstream words(line);
    for (std::string w; words >> w;) ++counts[w];
  }
  return counts;
}

// Order-insensitive view of a batch of pairs (shuffles do not keep order).
template <class K, class V>
std::map<K, V> as_map(const std::vector<std::pair<K, V>>& pairs) {
  return std::map<K, V>(pairs.begin(), pairs.end());
}

template <class T>
std::vector<T> sorted(std::vector<T> xs) {
  std::sort(xs.begin(), xs.end());
  return xs;
}

}  // namespace oracle
