// An in-memory queue of batches for queueStream(): tests and demos push
// whole batches, the coordinator takes one (or all) per batch interval.
#pragma once

#include <deque>
#include <mutex>
#include <vector>

namespace trib {

template <class T>
class BatchQueue {
 public:
  void push(std::vector<T> batch) {
    std::lock_guard<std::mutex> lock(mutex_);
    batches_.push_back(std::move(batch));
  }

  // The next batch, or all queued batches concatenated; empty when none.
  std::vector<T> take(bool one_at_a_time) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<T> out;
    while (!batches_.empty()) {
      auto& front = batches_.front();
      if (out.empty()) {  // the common case: hand the batch on, no copy
        out = std::move(front);
        batches_.pop_front();
        if (one_at_a_time) break;
        continue;
      }
      out.insert(out.end(), std::make_move_iterator(front.begin()),
                 std::make_move_iterator(front.end()));
      batches_.pop_front();
      if (one_at_a_time) break;
    }
    return out;
  }

  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::deque<std::vector<T>> batches_;
};

}  // namespace trib
