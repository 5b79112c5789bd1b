#include "io/line_splitter.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "io/utf8.hpp"

namespace trib {
namespace {
// A fresh buffer once less than this is left: reads stay large.
constexpr std::size_t kMinSpace = 64 << 10;

// Read buffers of the usual size are recycled once no block pins them: a
// fresh buffer costs a page fault per 4 KiB on first write, which the
// profile showed at 7 % of a full-speed run. Process-wide and never freed,
// so a block outliving every splitter can still hand its buffer back.
class BufferPool {
 public:
  // Only buffers that were in flight together come back, so keeping many
  // never raises the peak; it spares the page faults of the next batches.
  static constexpr std::size_t kKept = 256;

  std::shared_ptr<char> get(std::size_t bytes) {
    if (bytes != kPooledBytes) return {new char[bytes], std::default_delete<char[]>()};
    char* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        p = free_.back();
        free_.pop_back();
      }
    }
    if (!p) p = new char[bytes];
    return {p, [this](char* q) { put(q); }};
  }

  static BufferPool& instance() {
    static BufferPool* pool = new BufferPool;  // leaked on purpose: see above
    return *pool;
  }

 private:
  void put(char* p) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (free_.size() < kKept) {
        free_.push_back(p);
        return;
      }
    }
    delete[] p;
  }

  std::mutex mutex_;
  std::vector<char*> free_;
};
}  // namespace

LineSplitter::LineSplitter(std::size_t max_line_bytes, std::size_t buffer_bytes)
    : max_line_bytes_(max_line_bytes), buffer_bytes_(std::max<std::size_t>(buffer_bytes, 4096)) {
  new_buffer(0);
}

// Moves the unfinished line to the front of a new buffer. Blocks already cut
// keep the old one alive through their pins.
void LineSplitter::new_buffer(std::size_t at_least) {
  std::size_t carry = used_ - line_start_;
  std::size_t capacity = std::max(buffer_bytes_, carry + at_least);
  std::shared_ptr<char> next = BufferPool::instance().get(capacity);
  if (carry) std::memcpy(next.get(), buffer_.get() + line_start_, carry);
  buffer_ = std::move(next);
  capacity_ = capacity;
  used_ = carry;
  scanned_ -= line_start_;
  line_start_ = 0;
}

char* LineSplitter::space() {
  if (capacity_ - used_ < std::min(kMinSpace, buffer_bytes_)) new_buffer(kMinSpace);
  return buffer_.get() + used_;
}

void LineSplitter::add_line(TextBlock& block, const char* begin, const char* end) {
  if (end > begin && end[-1] == '\r') --end;
  std::string_view line(begin, static_cast<std::size_t>(end - begin));
  if (is_valid_utf8(line)) {
    block.lines.emplace_back(line);
    return;
  }
  std::string copy(line);
  repaired_ += sanitize_utf8(copy);
  fixed_.push_back(std::move(copy));
  block.lines.emplace_back();  // pointed at its repaired copy in seal()
}

// Points repaired lines at their copies and pins what the lines view.
void LineSplitter::seal(TextBlock& block) {
  if (block.lines.empty()) return;
  block.pins.push_back(buffer_);
  if (fixed_.empty()) return;
  auto kept = std::make_shared<const std::vector<std::string>>(std::move(fixed_));
  fixed_.clear();
  std::size_t next = 0;
  for (auto& line : block.lines) {
    if (line.data() != nullptr) continue;
    const std::string& copy = (*kept)[next++];
    line = Text(copy.data(), copy.size());
  }
  block.pins.push_back(std::move(kept));
}

TextBlock LineSplitter::commit(std::size_t n) {
  TextBlock block;
  used_ += n;
  char* base = buffer_.get();
  while (scanned_ < used_) {
    auto nl = static_cast<char*>(std::memchr(base + scanned_, '\n', used_ - scanned_));
    if (skipping_) {
      if (!nl) {  // still inside the over-long line: drop what came
        line_start_ = scanned_ = used_;
        break;
      }
      skipping_ = false;
      line_start_ = scanned_ = static_cast<std::size_t>(nl - base) + 1;
      continue;
    }
    std::size_t end = nl ? static_cast<std::size_t>(nl - base) : used_;
    if (end - line_start_ > max_line_bytes_) {
      // Keep the first max_line_bytes_ bytes as the record, drop the rest.
      ++overlong_;
      add_line(block, base + line_start_, base + line_start_ + max_line_bytes_);
      if (nl) {
        line_start_ = scanned_ = end + 1;
      } else {
        skipping_ = true;
        line_start_ = scanned_ = used_;
      }
      continue;
    }
    if (!nl) {
      scanned_ = used_;
      break;
    }
    add_line(block, base + line_start_, nl);
    line_start_ = scanned_ = end + 1;
  }
  seal(block);  // pins the current buffer: before any switch to a new one
  return block;
}

TextBlock LineSplitter::finish() {
  TextBlock block;
  if (!skipping_ && used_ > line_start_)
    add_line(block, buffer_.get() + line_start_, buffer_.get() + used_);
  seal(block);
  skipping_ = false;
  line_start_ = scanned_ = used_;
  new_buffer(0);
  return block;
}

void LineSplitter::feed(const char* data, std::size_t n, std::vector<std::string>& out) {
  while (n > 0) {
    char* dst = space();
    std::size_t take = std::min(n, space_size());
    std::memcpy(dst, data, take);
    for (Text line : commit(take).lines) out.emplace_back(line);
    data += take;
    n -= take;
  }
}

void LineSplitter::finish(std::vector<std::string>& out) {
  for (Text line : finish().lines) out.emplace_back(line);
}

}  // namespace trib
