// The coordinator's view of its worker nodes: who joined, round-robin
// choice (skipping workers marked slow), heartbeat bookkeeping, and how long
// tasks on them normally take (for speculative copies of slow ones). Plain
// data; the coordinator does the messaging.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

namespace trib {

struct Worker {
  using clock = std::chrono::steady_clock;
  caf::actor host;    // the worker's partition host, as it joined
  std::string label;  // "worker-<n>", in logs and state snapshot names
  clock::time_point last_heartbeat;
  bool ping_out = false;
  // Had a task copied elsewhere for slowness: gets no new stateless tasks
  // until then (unless every worker is slow).
  clock::time_point slow_until;
};

class WorkerPool {
 public:
  using clock = Worker::clock;

  Worker& add(caf::actor host, clock::time_point now);
  // Removes the worker; false if it is not (any more) in the pool.
  bool remove(const caf::actor_addr& host, std::string* label = nullptr);
  Worker* find(const caf::actor_addr& host);

  bool empty() const { return workers_.empty(); }
  std::size_t size() const { return workers_.size(); }
  std::vector<Worker>& all() { return workers_; }

  // The next worker in turn (the pool must not be empty).
  Worker& next();
  // The next worker in turn not marked slow at `now`; any if all are.
  Worker& next_not_slow(clock::time_point now);
  // A worker whose host is none of `hosts`, if there is one.
  Worker* other_than(const std::vector<caf::actor_addr>& hosts);

 private:
  std::vector<Worker> workers_;
  std::size_t turn_ = 0;
  int joined_ = 0;  // for labels
};

// Durations of the last 200 remote tasks.
class TaskTimes {
 public:
  void add(double ms);
  // The median, once there are enough samples to say what is normal.
  std::optional<double> median() const;

 private:
  std::deque<double> ms_;
};

}  // namespace trib
