#include "io/line_splitter.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>

#include <spdlog/spdlog.h>

#include "dstream/core/word_scan.hpp"
#include "io/utf8.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

namespace trib {
namespace {
// A fresh buffer once less than this is left: reads stay large.
constexpr std::size_t kMinSpace = 64 << 10;

// Read buffers of the usual size are recycled once no block pins them: a
// fresh buffer costs a page fault per 4 KiB on first write, which the
// profile showed at 7 % of a full-speed run. Process-wide and never freed,
// so a block outliving every splitter can still hand its buffer back.
//
// Buffers in use are bounded by a budget (set_receive_buffer_budget): at the
// budget a reader waits for a batch to finish and give buffers back, so a
// source faster than the engine is held back by TCP (Flink's credit-based
// flow control) instead of filling memory, and the buffers it reuses are
// still mapped.
class BufferPool {
 public:
  // Only buffers that were in flight together come back, so keeping many
  // never raises the peak; it spares the page faults of the next batches.
  static constexpr std::size_t kKept = 256;
  // A reader waits at most this long for a buffer, then takes one over the
  // budget: records kept past their batch (a foreachRDD holding on to Text)
  // must not stall a receiver for good.
  static constexpr std::chrono::seconds kLongestWait{10};

  std::shared_ptr<char> get(std::size_t bytes, const std::function<bool()>& stopping) {
    if (bytes != kPooledBytes) return {new char[bytes], std::default_delete<char[]>()};
    char* p = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      auto since = std::chrono::steady_clock::now();
      while (budget_ > 0 && in_use_ * kPooledBytes >= budget_) {
        if (stopping && stopping()) break;
        if (std::chrono::steady_clock::now() - since >= kLongestWait) {
          spdlog::warn("receive buffers: all {} MiB have been in use for {} s (records of earlier "
                       "batches still held?); taking one more", budget_ >> 20, kLongestWait.count());
          break;
        }
        returned_.wait_for(lock, std::chrono::milliseconds(50));
      }
      ++in_use_;
      if (!free_.empty()) {
        p = free_.back();
        free_.pop_back();
      }
    }
    if (!p) p = fresh();
    ASAN_UNPOISON_MEMORY_REGION(p, kPooledBytes);
    return {p, [this](char* q) { put(q); }};
  }

  void set_budget(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    budget_ = bytes;
    returned_.notify_all();
  }
  std::size_t in_use() {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_use_;
  }

  static BufferPool& instance() {
    static BufferPool* pool = new BufferPool;  // leaked on purpose: see above
    return *pool;
  }

 private:
  void put(char* p) {
    // Under AddressSanitizer a view into a buffer given back is reported
    // when read, as it would be for freed memory (get() lifts it).
    ASAN_POISON_MEMORY_REGION(p, kPooledBytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --in_use_;
      returned_.notify_one();
      if (free_.size() < kKept) {
        free_.push_back(p);
        return;
      }
    }
    ASAN_UNPOISON_MEMORY_REGION(p, kPooledBytes);  // the address may be mapped again by others
    munmap(p, kPooledBytes);
  }

  // Straight from the kernel, in 4 KiB pages. Not as a transparent huge
  // page (MADV_HUGEPAGE): on the benchmark's VM a fresh 2 MiB page was zeroed
  // at 0.45-0.7 GB/s against 3 GB/s for 4 KiB pages (the hypervisor backs
  // each freshly handed-out huge page anew), 13 % of a full-speed run's
  // samples; in 4 KiB pages the median of 6 paired runs went from 15.0 to
  // 16.4 M lines/s. Populated at once (MAP_POPULATE): one call instead of
  // 512 page faults. A 2 M-line run faults in ~64 MiB of buffers before the
  // pool is warm; populating them took its task clock from 265-298 to
  // 241-277 ms and its lines/s up 8 % (median of 16 pairs, 13 faster).
  static char* fresh() {
    void* p = mmap(nullptr, kPooledBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<char*>(p);
  }

  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<char*> free_;
  std::size_t in_use_ = 0;  // pooled-size buffers handed out, not yet back
  std::size_t budget_ = 0;  // bytes; 0: no bound
};
}  // namespace

void set_receive_buffer_budget(std::size_t bytes) { BufferPool::instance().set_budget(bytes); }
std::size_t receive_buffers_in_use() { return BufferPool::instance().in_use(); }

LineSplitter::LineSplitter(std::size_t max_line_bytes, std::size_t buffer_bytes,
                           std::function<bool()> stopping)
    : max_line_bytes_(max_line_bytes), buffer_bytes_(std::max<std::size_t>(buffer_bytes, 4096)),
      stopping_(std::move(stopping)) {
  new_buffer(0);
}

// Moves the unfinished line to the front of a new buffer. Blocks already cut
// keep the old one alive through their pins. A line longer than a buffer
// (max_line_bytes above it) gets one twice its size so far: growing by a
// read's worth each time would copy it over and over.
void LineSplitter::new_buffer(std::size_t at_least) {
  std::size_t carry = used_ - line_start_;
  std::size_t capacity = carry + at_least <= buffer_bytes_ ? buffer_bytes_ : 2 * carry + at_least;
  std::shared_ptr<char> next = BufferPool::instance().get(capacity, stopping_);
  if (carry) std::memcpy(next.get(), buffer_.get() + line_start_, carry);
  buffer_ = std::move(next);
  capacity_ = capacity;
  used_ = carry;
  scanned_ -= line_start_;
  long_line_ = long_line_ == line_start_ ? 0 : SIZE_MAX;  // the carried line keeps its mark
  line_start_ = 0;
}

char* LineSplitter::space() {
  if (capacity_ - used_ < std::min(kMinSpace, buffer_bytes_)) new_buffer(kMinSpace);
  return buffer_.get() + used_;
}

// Inlined into the scans: the call per line showed in the reader's profile.
// Lines that may need repair go to add_checked_line.
inline void LineSplitter::add_line(TextBlock& block, const char* begin, const char* end,
                                   bool check_utf8) {
  if (end > begin && end[-1] == '\r') --end;
  if (__builtin_expect(check_utf8, 0)) return add_checked_line(block, begin, end);
  block.lines.emplace_back(begin, static_cast<std::size_t>(end - begin));
}

void LineSplitter::add_checked_line(TextBlock& block, const char* begin, const char* end) {
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

// The first '\n' at or after `from` in the bytes read, or nullptr; sets
// *non_ascii if a byte >= 0x80 comes before it. 64 bytes at a time (where
// the buffer has them: bytes past used_ are masked off), which also finds
// the lines that need no UTF-8 check, where memchr and a per-line check
// cost a tenth of a full-speed run.
const char* LineSplitter::find_newline(std::size_t from, bool* non_ascii) const {
  const char* base = buffer_.get();
  uint64_t high_seen = 0;
  std::size_t at = from;
  for (; at < used_ && capacity_ - at >= 64; at += 64) {
    uint64_t high;
    uint64_t lf = newline_mask64(base + at, &high);
    if (used_ - at < 64) {
      uint64_t keep = (1ull << (used_ - at)) - 1;
      lf &= keep;
      high &= keep;
    }
    if (lf) {
      auto i = static_cast<unsigned>(__builtin_ctzll(lf));
      if ((high_seen | (high & ((1ull << i) - 1))) != 0) *non_ascii = true;
      return base + at + i;
    }
    high_seen |= high;
  }
  if (high_seen) *non_ascii = true;
  for (; at < used_; ++at) {  // the buffer's last bytes
    if (base[at] == '\n') return base + at;
    if (static_cast<unsigned char>(base[at]) >= 0x80) *non_ascii = true;
  }
  return nullptr;
}

// The lines that end in whole 64-byte blocks of the bytes read, each block's
// newline and non-ASCII masks computed once (find_newline, called per line,
// computed the block holding a line's end again for the next line: a tenth
// of the receiving thread). Leaves an over-long line, and the last partial
// block, to commit's loop.
void LineSplitter::cut_whole_blocks(TextBlock& block) {
  const char* base = buffer_.get();
  while (!skipping_ && used_ - scanned_ >= 64) {
    std::size_t at = scanned_;
    uint64_t high;
    uint64_t lf = newline_mask64(base + at, &high);
    for (; lf != 0; lf &= lf - 1) {
      auto i = static_cast<unsigned>(__builtin_ctzll(lf));
      std::size_t end = at + i;
      if (end - line_start_ > max_line_bytes_) return;  // commit's loop cuts it
      // Non-ASCII bytes of this line within this block: below the newline,
      // from the line's start.
      uint64_t from = line_start_ > at ? line_start_ - at : 0;
      uint64_t mine = high & ((uint64_t{1} << i) - 1) & ~((uint64_t{1} << from) - 1);
      add_line(block, base + line_start_, base + end, scanned_non_ascii_ || mine != 0);
      scanned_non_ascii_ = false;
      line_start_ = end + 1;
    }
    std::size_t from = line_start_ - std::min(line_start_, at);  // 64: the block ended a line
    if (from < 64 && (high >> from) != 0) scanned_non_ascii_ = true;
    scanned_ = at + 64;
  }
}

TextBlock LineSplitter::commit(std::size_t n) {
  TextBlock block;
  seen_bytes_ += n;
  // The lines so far per byte, with an eighth to spare: a regrowth copies them all.
  if (seen_lines_ > 0) block.lines.reserve(n * seen_lines_ / seen_bytes_ * 9 / 8 + 16);
  used_ += n;
  char* base = buffer_.get();
  cut_whole_blocks(block);
  while (scanned_ < used_) {
    if (skipping_) {
      auto nl = static_cast<char*>(std::memchr(base + scanned_, '\n', used_ - scanned_));
      if (!nl) {  // still inside the over-long line: drop what came
        line_start_ = scanned_ = used_;
        break;
      }
      skipping_ = false;
      scanned_non_ascii_ = false;
      line_start_ = scanned_ = static_cast<std::size_t>(nl - base) + 1;
      continue;
    }
    bool non_ascii = scanned_non_ascii_;
    const char* nl = find_newline(scanned_, &non_ascii);
    std::size_t end = nl ? static_cast<std::size_t>(nl - base) : used_;
    if (end - line_start_ > max_line_bytes_) {
      // Keep the first max_line_bytes_ bytes as the record, drop the rest.
      ++overlong_;
      add_line(block, base + line_start_, base + line_start_ + max_line_bytes_);
      scanned_non_ascii_ = false;
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
      scanned_non_ascii_ = non_ascii;
      break;
    }
    add_line(block, base + line_start_, nl, non_ascii);
    scanned_non_ascii_ = false;
    line_start_ = scanned_ = end + 1;
  }
  seen_lines_ += block.lines.size();
  seal(block);  // pins the current buffer: before any switch to a new one
  return block;
}

// One pass over the read: no line can be over the limit (checked cheaply,
// below), so only the newlines are counted and the bytes >= 0x80 noted; the
// lines themselves are cut later, where something reads them one by one.
TextBlock LineSplitter::commit_uncut(std::size_t n) {
  if (skipping_ || max_line_bytes_ < 2) return commit(n);
  const char* base = buffer_.get();
  const std::size_t end = used_ + n;
  // A line over the limit (2w) holds a whole window of w bytes aligned at
  // line_start_; where every such window holds a newline (found within a
  // line's length), none is over it. Otherwise commit cuts it.
  // A line found long stays with commit until it ends (no window searched
  // again per read of a line that trickles in).
  const std::size_t w = max_line_bytes_ / 2;
  if (long_line_ == line_start_) return commit(n);
  for (std::size_t at = line_start_; end - at >= w; at += w)
    if (!std::memchr(base + at, '\n', w)) {
      TextBlock out = commit(n);
      long_line_ = line_start_;
      return out;
    }
  auto last = static_cast<const char*>(memrchr(base + scanned_, '\n', end - scanned_));
  if (!last) {  // no line completed: note what the unfinished one holds so far
    bool high;
    count_newlines(base + scanned_, end - scanned_, &high);
    used_ = scanned_ = end;
    seen_bytes_ += n;
    scanned_non_ascii_ |= high;
    return {};
  }
  const auto done = static_cast<std::size_t>(last - base) + 1;  // the completed lines end here
  bool high;
  std::size_t lines = count_newlines(base + scanned_, done - scanned_, &high);
  // Lines to repair are cut one by one. The run is valid UTF-8 exactly when
  // each of its lines is: a sequence cannot run across "\n".
  if ((high || scanned_non_ascii_) &&
      !is_valid_utf8(std::string_view(base + line_start_, done - line_start_)))
    return commit(n);
  TextBlock out;
  out.uncut = LineRun{base + line_start_, done - line_start_, lines};
  out.pins.push_back(buffer_);
  used_ = end;
  seen_bytes_ += n;
  seen_lines_ += lines;
  // The unfinished line after the last newline is scanned again next time.
  line_start_ = scanned_ = done;
  scanned_non_ascii_ = false;
  return out;
}

TextBlock LineSplitter::finish() {
  TextBlock block;
  if (!skipping_ && used_ > line_start_)
    add_line(block, buffer_.get() + line_start_, buffer_.get() + used_);
  seal(block);
  skipping_ = false;
  scanned_non_ascii_ = false;
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
