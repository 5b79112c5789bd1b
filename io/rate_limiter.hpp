// Limits how fast a receiver hands records to the engine: a token bucket
// whose rate can change while it runs (backpressure lowers it). store()
// blocks the receiver's own thread until the records fit, so a socket's
// kernel buffer, not Tributary's memory, absorbs the excess.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>

namespace trib {

class RateLimiter {
 public:
  using clock = std::chrono::steady_clock;

  // rate <= 0: unlimited.
  explicit RateLimiter(double rate = 0) : rate_(rate) {}

  void set_rate(double rate) { rate_.store(rate); }
  double rate() const { return rate_.load(); }

  // How long the caller must wait before `n` more records may pass; the
  // records are counted as passed once the wait is over. Allows bursts of
  // up to one tenth of a second's worth.
  std::chrono::microseconds reserve(int64_t n) {
    double r = rate_.load();
    std::lock_guard<std::mutex> lock(mutex_);
    auto now = clock::now();
    if (r <= 0) {
      next_free_ = now;
      return std::chrono::microseconds(0);
    }
    auto burst = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(0.1));
    next_free_ = std::max(next_free_, now - burst);
    auto wait = next_free_ > now ? next_free_ - now : clock::duration::zero();
    next_free_ += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(n / r));
    return std::chrono::duration_cast<std::chrono::microseconds>(wait);
  }

 private:
  std::atomic<double> rate_;
  std::mutex mutex_;
  clock::time_point next_free_ = clock::now();
};

}  // namespace trib
