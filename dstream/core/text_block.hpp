// TextBlock: lines as views into bytes that travel with them.
//
// Receivers hand the engine blocks, not strings: a block is the lines found in
// one read (views into the read buffer) plus the pins that keep that buffer
// alive. Lines that had to be changed (invalid UTF-8 repaired) point into an
// owned copy instead, pinned the same way. The socket reader hands a read
// whose lines need no change over uncut (a LineRun: the bytes and the line
// count), so the line views are made only where a task reads lines one by
// one, on the task's core; a word count splits the run as it lies.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dstream/core/partition.hpp"
#include "dstream/core/partition_codec.hpp"
#include "dstream/core/text.hpp"

namespace trib {

// Cuts a run of uncut lines: each line without its "\n" or "\r\n".
inline std::vector<Text> cut_line_run(const LineRun& run) {
  std::vector<Text> lines;
  lines.reserve(run.lines);
  const char* at = run.data;
  const char* end = run.data + run.bytes;
  while (at < end) {
    auto nl = static_cast<const char*>(std::memchr(at, '\n', static_cast<std::size_t>(end - at)));
    if (!nl) nl = end;  // not made by a reader (which ends a run on '\n'): the rest is a line
    const char* stop = nl > at && nl[-1] == '\r' ? nl - 1 : nl;
    lines.emplace_back(at, static_cast<std::size_t>(stop - at));
    at = nl + 1;
  }
  return lines;
}

inline std::shared_ptr<const PartitionBase> cut_line_run_rows(const LineRun& run) {
  return std::make_shared<const TypedPartition<Text>>(cut_line_run(run));
}

// Lines [from, to) of a receiver's chunk (a partition of Text rows, or of
// uncut lines), pinning what the chunk pins. Uncut lines stay uncut: the
// slice's bytes are found by counting newlines.
inline Partition slice_lines(const Partition& chunk, std::size_t from, std::size_t to) {
  if (from == 0 && to == chunk.size()) return chunk;
  Partition slice;
  if (const LineRun* run = chunk.uncut_run()) {
    const char* end = run->data + run->bytes;
    auto after_lines = [&](const char* at, std::size_t n) {  // n lines on from `at`
      for (; n > 0; --n) at = static_cast<const char*>(std::memchr(at, '\n', static_cast<std::size_t>(end - at))) + 1;
      return at;
    };
    const char* begin = after_lines(run->data, from);
    const char* stop = after_lines(begin, to - from);
    slice = Partition::uncut_lines(LineRun{begin, static_cast<std::size_t>(stop - begin), to - from},
                                   &cut_line_run_rows);
  } else {
    const auto& rows = chunk.rows<Text>();
    slice = Partition::of(std::vector<Text>(rows.begin() + static_cast<std::ptrdiff_t>(from),
                                            rows.begin() + static_cast<std::ptrdiff_t>(to)));
  }
  for (const auto& pin : chunk.pins()) slice.pin(pin);
  return slice;
}

// A receiver's block: lines as views (`lines`), or, from a reader that
// found nothing to change in them, the same lines not cut yet (`uncut`,
// with `lines` empty), which the engine cuts only where something reads
// them one by one. `uncut` is LineSplitter::commit_uncut's (its `lines` is
// the number of "\n" in its bytes, which end with one); a receiver of your
// own fills `lines` and leaves it empty.
struct TextBlock {
  std::vector<Text> lines;
  std::vector<Pin> pins;  // what the lines point into
  LineRun uncut;

  bool empty() const { return lines.empty() && uncut.lines == 0; }
  std::size_t size() const { return lines.size() + uncut.lines; }

  // The lines as views, cut if they were not.
  void cut() {
    if (uncut.lines == 0) return;
    lines = cut_line_run(uncut);
    uncut = LineRun{};
  }

  // The block as one partition pinning its bytes.
  Partition partition() && {
    Partition p = uncut.lines > 0 ? Partition::uncut_lines(uncut, &cut_line_run_rows)
                                  : Partition::of(std::move(lines));
    for (auto& pin : pins) p.pin(std::move(pin));
    return p;
  }

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

// Lines that arrive in chunks (a receiver's reads over one interval), kept
// in consecutive slots as they arrive, handed over as partitions when the
// interval closes. As Spark's receivers cut a block every block interval, a
// receiver puts the lines of the i-th n-th of the interval in slot i: at a
// steady rate the slots are the interval's n partitions already, and the
// close hands each slot's chunks over as one partition without copying a
// line (Partition::concat; copying them took 20-60 ms of a full-speed
// batch, all of it between the close and the first task, and then a tenth
// of the receiving thread). When the slots are uneven (a burst, a replayed
// log), take() re-slices them.
class LineChunks {
 public:
  // Appends a chunk to `slot`; a slot before the last one used counts as
  // the last one, so the slots keep the order of arrival.
  void add(const Partition& chunk, std::size_t slot = 0) {
    std::size_t n = chunk.size();
    if (n == 0) return;
    lines_ += n;
    slot = std::max(slot, slots_.empty() ? 0 : slots_.size() - 1);
    if (slot >= slots_.size()) slots_.resize(slot + 1);
    slots_[slot].chunks.push_back(chunk);
    slots_[slot].lines += n;
  }
  std::size_t lines() const { return lines_; }

  // n partitions of consecutive lines. The slots themselves when there are
  // n of them and none holds over twice its share; otherwise sliced as
  // split_into_partitions slices (Spark's parallelize), without copying a
  // chunk that falls whole in one partition or cutting uncut lines; each
  // partition pins the chunks its lines lie in. Leaves this empty.
  Dataset take(int n) {
    auto count = static_cast<std::size_t>(n);
    Dataset parts;
    parts.reserve(count);
    if (even(count)) {
      for (auto& slot : slots_) parts.push_back(Partition::concat<Text>(std::move(slot.chunks)));
    } else {
      // Each partition: its share of the lines, as slices of the chunks
      // they lie in (whole chunks as they are), each pinning its chunk.
      std::vector<const Partition*> chunks;
      for (const auto& slot : slots_)
        for (const auto& c : slot.chunks) chunks.push_back(&c);
      std::size_t chunk = 0, row = 0;
      for (std::size_t i = 0; i < count; ++i) {
        auto [begin, end] = slice_bounds(lines_, n, static_cast<int>(i));
        std::vector<Partition> pieces;
        for (std::size_t need = end - begin; need > 0;) {
          const Partition& from = *chunks[chunk];
          std::size_t take = std::min(from.size() - row, need);
          pieces.push_back(slice_lines(from, row, row + take));
          row += take;
          need -= take;
          if (row == from.size()) ++chunk, row = 0;
        }
        parts.push_back(pieces.empty() ? Partition::of(std::vector<Text>{}) : Partition::concat<Text>(std::move(pieces)));
      }
    }
    slots_.clear();
    lines_ = 0;
    return parts;
  }

  // Up to n partitions of consecutive whole chunks, near equal in lines: no
  // line is copied, so a partition is as fine as a chunk (one read). For
  // map-ahead's slots, which need only be near in size. Leaves this empty.
  Dataset take_chunks(int n) {
    Dataset parts;
    std::vector<Partition> group;
    std::size_t taken = 0, groups = static_cast<std::size_t>(std::max(n, 1));
    for (auto& slot : slots_)
      for (auto& chunk : slot.chunks) {
        taken += chunk.size();
        group.push_back(std::move(chunk));
        // Group g ends once the lines taken reach (g + 1) n-ths of all.
        if (taken * groups >= lines_ * (parts.size() + 1)) {
          parts.push_back(Partition::concat<Text>(std::move(group)));
          group.clear();
        }
      }
    if (!group.empty()) parts.push_back(Partition::concat<Text>(std::move(group)));
    slots_.clear();
    lines_ = 0;
    return parts;
  }

 private:
  struct Slot {
    std::vector<Partition> chunks;
    std::size_t lines = 0;
  };

  bool even(std::size_t n) const {
    if (slots_.size() != n) return false;
    for (const auto& slot : slots_)
      if (slot.lines * n > 2 * lines_ + n) return false;
    return true;
  }

  std::vector<Slot> slots_;
  std::size_t lines_ = 0;
};

// The same for lines held as strings (polled sources).
inline Dataset split_text_into_partitions(std::vector<std::string> lines, int n) {
  TextBlock block = TextBlock::own(std::move(lines));
  return split_text_into_partitions(std::move(block.lines), block.pins, n);
}

}  // namespace trib
