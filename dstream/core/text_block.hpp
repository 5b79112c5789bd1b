// TextBlock: lines as views into bytes that travel with them.
//
// Receivers hand the engine blocks, not strings: a block is the lines found in
// one read (views into the read buffer) plus the pins that keep that buffer
// alive. Lines that had to be changed (invalid UTF-8 repaired) point into an
// owned copy instead, pinned the same way.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "dstream/core/partition.hpp"
#include "dstream/core/partition_codec.hpp"
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

// Lines that arrive in chunks (a receiver's reads over one interval), cut
// into partitions when the interval closes: each line is copied once, from
// its chunk straight into its partition, with no growing buffer in between.
class LineChunks {
 public:
  void add(Partition chunk) {
    lines_ += chunk.size_hint();
    for (const auto& pin : chunk.pins())
      if (pins_.empty() || pins_.back() != pin) pins_.push_back(pin);  // reads share buffers
    chunks_.push_back(std::move(chunk));
  }
  std::size_t lines() const { return lines_; }

  // n partitions of consecutive lines, sliced as split_into_partitions
  // slices (Spark's parallelize); each pins every block of the interval.
  // Leaves this empty.
  Dataset take(int n) {
    Dataset parts;
    parts.reserve(static_cast<std::size_t>(n));
    std::size_t chunk = 0, row = 0;
    for (int i = 0; i < n; ++i) {
      auto [begin, end] = slice_bounds(lines_, n, i);
      std::vector<Text> rows;
      rows.reserve(end - begin);
      while (rows.size() < end - begin) {
        const auto& from = chunks_[chunk].rows<Text>();
        std::size_t take = std::min(from.size() - row, end - begin - rows.size());
        rows.insert(rows.end(), from.begin() + static_cast<std::ptrdiff_t>(row),
                    from.begin() + static_cast<std::ptrdiff_t>(row + take));
        row += take;
        if (row == from.size()) ++chunk, row = 0;
      }
      Partition p = Partition::of(std::move(rows));
      for (const auto& pin : pins_) p.pin(pin);
      parts.push_back(std::move(p));
    }
    chunks_.clear();
    pins_.clear();
    lines_ = 0;
    return parts;
  }

 private:
  std::vector<Partition> chunks_;
  std::vector<Pin> pins_;  // what the chunks' lines point into
  std::size_t lines_ = 0;
};

// The same for lines held as strings (polled sources).
inline Dataset split_text_into_partitions(std::vector<std::string> lines, int n) {
  TextBlock block = TextBlock::own(std::move(lines));
  return split_text_into_partitions(std::move(block.lines), block.pins, n);
}

}  // namespace trib
