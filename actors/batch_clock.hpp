// The batch clock (Spark's JobGenerator timer): batch k covers the interval
// ending at zero + (k + 1) * interval, where zero is a multiple of the
// interval. Plain arithmetic over times the caller passes in, so tests need
// no real clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

namespace trib {

// Milliseconds since the epoch: the wall time the coordinator's actors read
// and pass to the plain parts.
inline int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class BatchClock {
 public:
  explicit BatchClock(int64_t interval_ms) : interval_(interval_ms) {}

  // A new job starting at wall time `now_ms`: the first interval closes at
  // least one full interval later.
  void start(int64_t now_ms) {
    zero_ = (now_ms + interval_ - 1) / interval_ * interval_;
    next_ = 0;
  }

  // A restarted job: the time origin and the next batch of its checkpoint.
  void restore(int64_t zero_ms, int64_t next_index) {
    zero_ = zero_ms;
    next_ = next_index;
  }

  // Closes the next interval: (batch time, batch index).
  std::pair<int64_t, int64_t> close_next() {
    int64_t k = next_++;
    return {time_of(k), k};
  }

  // Milliseconds from `now_ms` until the next interval is due to close (0 if overdue).
  int64_t delay_to_next_close(int64_t now_ms) const { return std::max<int64_t>(0, time_of(next_) - now_ms); }

  int64_t time_of(int64_t index) const { return zero_ + (index + 1) * interval_; }

  // Map-ahead's slot boundaries in the open interval, as delays from now
  // given `delay_to_close` (delay_to_next_close): every interval/slots back
  // from the close, over all of what is left of it, latest first. The job's
  // first interval runs from the start to a grid time up to two intervals
  // on: boundaries only in its last interval left all read before them to
  // one slot (half the input of a 2 M-line run, mapped by two tasks while
  // the reader stood at its buffer bound).
  std::vector<int64_t> slot_delays(int64_t delay_to_close, int slots) const {
    std::vector<int64_t> delays;
    if (slots < 2) return delays;
    for (int64_t j = 1;; ++j) {
      int64_t at = delay_to_close - interval_ * j / slots;
      if (at <= 0) break;
      delays.push_back(at);
    }
    return delays;
  }
  int64_t zero_time() const { return zero_; }
  int64_t next_index() const { return next_; }

 private:
  int64_t interval_;
  int64_t zero_ = 0;
  int64_t next_ = 0;
};

}  // namespace trib
