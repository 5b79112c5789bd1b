// Waits between retries (a source reconnecting, a receiver restarting, a
// worker reaching its coordinator): the first wait, doubling each time up to
// a cap, and back to the first once an attempt succeeds.
#pragma once

#include <algorithm>
#include <chrono>

namespace trib {

class Backoff {
 public:
  using ms = std::chrono::milliseconds;

  explicit Backoff(ms first = ms(100), ms max = ms(5000)) : first_(first), max_(max), next_(first) {}

  // How long the next wait is (for logs and deadlines).
  ms current() const { return next_; }

  // The wait to do now; the one after is twice as long, up to the cap.
  ms take() {
    ms wait = next_;
    next_ = std::min(next_ * 2, max_);
    return wait;
  }

  // An attempt succeeded: the next failure waits the first wait again.
  void reset() { next_ = first_; }

 private:
  ms first_, max_, next_;
};

}  // namespace trib
