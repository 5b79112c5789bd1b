// Turns a byte stream that arrives in arbitrary chunks (TCP reads) into
// lines. A line split across two reads comes out whole; "\r\n" and "\n" both
// end a line; the text after the last newline waits for the next chunk.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace trib {

class LineSplitter {
 public:
  // Lines longer than this are cut (and counted) rather than buffered
  // without bound when a peer never sends a newline.
  explicit LineSplitter(std::size_t max_line_bytes = 1 << 20)
      : max_line_bytes_(max_line_bytes) {}

  // Appends the complete lines found in data[0, n) to `out`.
  void feed(const char* data, std::size_t n, std::vector<std::string>& out);

  // At end of stream: the unterminated last line, if any.
  void finish(std::vector<std::string>& out);

  std::size_t overlong_lines() const { return overlong_; }

 private:
  void emit(std::vector<std::string>& out);

  std::string partial_;
  std::size_t max_line_bytes_;
  std::size_t overlong_ = 0;
  bool skipping_ = false;
};

}  // namespace trib
