// Small text helpers for the common word-count style pipelines.
#pragma once

#include <cctype>
#include <string>
#include <vector>

namespace trib {

// The words of a line: maximal runs of non-whitespace characters.
inline std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  std::size_t i = 0, n = line.size();
  while (i < n) {
    while (i < n && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    std::size_t start = i;
    while (i < n && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) words.emplace_back(line, start, i - start);
  }
  return words;
}

}  // namespace trib
