#include "io/line_splitter.hpp"

#include <cstring>

namespace trib {

void LineSplitter::emit(std::vector<std::string>& out) {
  if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
  out.push_back(std::move(partial_));
  partial_.clear();
}

void LineSplitter::feed(const char* data, std::size_t n,
                        std::vector<std::string>& out) {
  const char* end = data + n;
  while (data < end) {
    auto nl = static_cast<const char*>(std::memchr(data, '\n', end - data));
    if (skipping_) {  // dropping the tail of an over-long line
      if (!nl) return;
      skipping_ = false;
      data = nl + 1;
      continue;
    }
    partial_.append(data, nl ? nl : end);
    if (partial_.size() > max_line_bytes_) {
      // Keep the first max_line_bytes_ bytes as the record, drop the rest.
      partial_.resize(max_line_bytes_);
      ++overlong_;
      emit(out);
      if (!nl) {
        skipping_ = true;
        return;
      }
    } else if (!nl) {
      return;
    } else {
      emit(out);
    }
    data = nl + 1;
  }
}

void LineSplitter::finish(std::vector<std::string>& out) {
  if (!partial_.empty()) emit(out);
  skipping_ = false;
}

}  // namespace trib
