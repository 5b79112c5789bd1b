// The meeting point of the job's actors and the user's thread: counters the
// actors update, batch reports, job events, and the latch awaitTermination()
// waits on.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dstream/core/batch_info.hpp"
#include "dstream/core/job_events.hpp"

namespace trib {

class JobMonitor {
 public:
  using Listener = std::function<void(const BatchInfo&)>;

  // Keeps the reports of the `retained` most recent batches (Spark's
  // ui.retainedBatches): a job that runs for months must not grow with them.
  explicit JobMonitor(std::size_t retained = 1000) : retained_(retained < 1 ? 1 : retained) {}

  std::atomic<int64_t> received_records{0};   // accepted by receivers
  std::atomic<int64_t> processed_records{0};  // input of completed batches
  std::atomic<int64_t> slots_mapped_ahead{0}; // partitions mapped before their batch formed
  std::atomic<double> ingest_rate{0};         // backpressure's latest rate; 0: none yet

  void add_listener(Listener l) {
    std::lock_guard<std::mutex> lock(mutex_);
    listeners_.push_back(std::move(l));
  }

  // Called by the coordinator when a batch's outputs were emitted.
  void batch_completed(const BatchInfo& info) {
    std::vector<Listener> listeners;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      completed_.push_back(info);
      if (completed_.size() > retained_) completed_.pop_front();
      ++completed_count_;
      listeners = listeners_;
    }
    for (auto& l : listeners) l(info);
    cv_.notify_all();
  }

  using EventListener = std::function<void(const JobEvent&)>;

  void add_event_listener(EventListener l) {
    std::lock_guard<std::mutex> lock(mutex_);
    event_listeners_.push_back(std::move(l));
  }

  // Called by the coordinator (on its thread) when something happens to the
  // job; stamps the wall time and tells the listeners.
  void event(JobEvent e) {
    e.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    std::vector<EventListener> listeners;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      listeners = event_listeners_;
    }
    for (auto& l : listeners) l(e);
  }

  // A stop asked for by this process (StreamingContext::stop). The
  // coordinator stops only on one: a stop message can come from any peer.
  void request_stop(bool graceful) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stop_request_ || !graceful) stop_request_ = graceful;
  }
  std::optional<bool> stop_request() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stop_request_;
  }

  // Called once when the job has ended; `error` empty on a clean stop.
  void terminated(std::string error) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (terminated_) return;
      terminated_ = true;
      error_ = std::move(error);
    }
    cv_.notify_all();
  }

  // Waits until the job ended or `timeout` passed; true if it ended.
  bool wait_terminated(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return terminated_; });
  }

  void wait_terminated() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return terminated_; });
  }

  // Waits until at least n batches completed (or the job ended).
  bool wait_batches(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout,
                        [&] { return completed_count_ >= n || terminated_; }) &&
           completed_count_ >= n;
  }

  bool is_terminated() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return terminated_;
  }

  std::string error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_;
  }

  // The most recent completed batches, oldest first (at most `retained`).
  std::vector<BatchInfo> completed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {completed_.begin(), completed_.end()};
  }
  // Every batch completed since the start, retained or not.
  std::size_t completed_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return completed_count_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Listener> listeners_;
  std::vector<EventListener> event_listeners_;
  std::size_t retained_;
  std::deque<BatchInfo> completed_;
  std::size_t completed_count_ = 0;
  bool terminated_ = false;
  std::optional<bool> stop_request_;  // graceful?
  std::string error_;
};

}  // namespace trib
