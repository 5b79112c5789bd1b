// Small text helpers for the common word-count style pipelines.
#pragma once

#include <string>
#include <vector>

namespace trib {

// ASCII whitespace, inlined (std::isspace is a locale-aware library call).
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The words of a line: maximal runs of non-whitespace characters.
inline std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  words.reserve(8);
  std::size_t i = 0, n = line.size();
  while (i < n) {
    while (i < n && is_space(line[i])) ++i;
    std::size_t start = i;
    while (i < n && !is_space(line[i])) ++i;
    if (i > start) words.emplace_back(line, start, i - start);
  }
  return words;
}

}  // namespace trib
