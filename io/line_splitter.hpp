// Turns a byte stream that arrives in arbitrary chunks (TCP reads) into
// blocks of lines, without a copy per line: the caller reads straight into
// space(), and commit() hands back the lines those bytes completed as views
// into the same buffer, which the block pins.
//
// A line split across two reads comes out whole (the unfinished tail moves
// to the next buffer when the current one is full); "\r\n" and "\n" both end
// a line; lines longer than max_line_bytes are cut and counted rather than
// buffered without bound; invalid UTF-8 is repaired (each bad byte becomes
// U+FFFD) once the line is complete, so a character split across reads is
// never mistaken for a bad one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dstream/core/text_block.hpp"

namespace trib {

// Read buffers of this size are pooled (see line_splitter.cpp).
inline constexpr std::size_t kPooledBytes = 2 << 20;

// Bounds the bytes of pooled read buffers in use in this process, by every
// splitter together (0: no bound). At the bound, space() waits for a buffer
// to come back (for at most 10 s, or until `stopping` says so).
void set_receive_buffer_budget(std::size_t bytes);
// Pooled read buffers in use now (tests).
std::size_t receive_buffers_in_use();

class LineSplitter {
 public:
  // stopping: when it returns true, a wait for a buffer ends at once.
  explicit LineSplitter(std::size_t max_line_bytes = 1 << 20,
                        std::size_t buffer_bytes = kPooledBytes,
                        std::function<bool()> stopping = {});

  // Where to put the next bytes, and how many fit (always at least one).
  char* space();
  std::size_t space_size() const { return capacity_ - used_; }

  // `n` bytes were written at space(): the lines they complete.
  TextBlock commit(std::size_t n);

  // As commit, but when every line the bytes complete is plain (valid UTF-8,
  // within max_line_bytes) they come back uncut (TextBlock::uncut): one
  // scan for newlines, no view per line. What reads the lines one by one
  // cuts them later (on another thread); split_words reads them uncut.
  TextBlock commit_uncut(std::size_t n);

  // At end of stream: the unterminated last line, if any.
  TextBlock finish();

  // Copies bytes in, for callers that already hold them; appends the
  // completed lines to `out` as strings.
  void feed(const char* data, std::size_t n, std::vector<std::string>& out);
  void finish(std::vector<std::string>& out);

  std::size_t overlong_lines() const { return overlong_; }
  // Bytes of the unfinished last line (what finish() would hand out).
  std::size_t pending_bytes() const { return skipping_ ? 0 : used_ - line_start_; }
  std::size_t repaired_bytes() const { return repaired_; }

 private:
  void new_buffer(std::size_t at_least);
  // check_utf8: false when the line is known to be plain ASCII.
  void add_line(TextBlock& block, const char* begin, const char* end, bool check_utf8 = true);
  void add_checked_line(TextBlock& block, const char* begin, const char* end);
  const char* find_newline(std::size_t from, bool* non_ascii) const;
  void cut_whole_blocks(TextBlock& block);
  void seal(TextBlock& block);

  std::size_t max_line_bytes_, buffer_bytes_;
  std::shared_ptr<char> buffer_;  // shared with every block cut from it
  std::size_t capacity_ = 0, used_ = 0;
  std::size_t line_start_ = 0;    // first byte of the unfinished line
  std::size_t scanned_ = 0;       // bytes already searched for a newline
  bool scanned_non_ascii_ = false;  // a byte >= 0x80 in [line_start_, scanned_)
  std::size_t seen_bytes_ = 0, seen_lines_ = 0;  // to size each block's lines up front
  bool skipping_ = false;         // dropping the tail of an over-long line
  std::size_t long_line_ = SIZE_MAX;  // line_start_ of a line commit_uncut left to commit
  std::size_t overlong_ = 0, repaired_ = 0;
  std::vector<std::string> fixed_;  // repaired lines of the block being cut
  std::function<bool()> stopping_;
};

}  // namespace trib
