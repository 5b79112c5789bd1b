// TextBlock: lines as views into bytes that travel with them.
//
// Receivers hand the engine blocks, not strings: a block is the lines found in
// one read (views into the read buffer) plus the pins that keep that buffer
// alive. Lines that had to be changed (invalid UTF-8 repaired) point into an
// owned copy instead, pinned the same way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dstream/core/partition.hpp"
#include "dstream/core/text.hpp"

namespace trib {

struct TextBlock {
  std::vector<Text> lines;
  std::vector<Pin> pins;  // what the lines point into

  bool empty() const { return lines.empty(); }

  // A block over strings the caller already has: no bytes are copied, the
  // strings move into the block's pin.
  static TextBlock own(std::vector<std::string> strings) {
    auto kept = std::make_shared<const std::vector<std::string>>(std::move(strings));
    TextBlock block;
    block.lines.reserve(kept->size());
    for (const auto& s : *kept) block.lines.emplace_back(s.data(), s.size());
    block.pins.push_back(std::move(kept));
    return block;
  }
};

// Cuts lines into n partitions of consecutive lines, each pinning `pins`.
inline Dataset split_text_into_partitions(std::vector<Text> lines, const std::vector<Pin>& pins,
                                          int n) {
  Dataset parts = split_into_partitions(std::move(lines), n);
  for (auto& p : parts)
    for (const auto& pin : pins) p.pin(pin);
  return parts;
}

// The same for lines held as strings (polled sources).
inline Dataset split_text_into_partitions(std::vector<std::string> lines, int n) {
  TextBlock block = TextBlock::own(std::move(lines));
  return split_text_into_partitions(std::move(block.lines), block.pins, n);
}

}  // namespace trib
