#include "actors/worker_pool.hpp"

#include <algorithm>

namespace trib {

Worker& WorkerPool::add(caf::actor host, clock::time_point now) {
  Worker w;
  w.host = std::move(host);
  w.label = "worker-" + std::to_string(++joined_);
  w.last_heartbeat = now;
  workers_.push_back(std::move(w));
  return workers_.back();
}

bool WorkerPool::remove(const caf::actor_addr& host, std::string* label) {
  auto it = std::find_if(workers_.begin(), workers_.end(),
                         [&](const Worker& w) { return w.host.address() == host; });
  if (it == workers_.end()) return false;
  if (label) *label = it->label;
  workers_.erase(it);
  return true;
}

Worker* WorkerPool::find(const caf::actor_addr& host) {
  for (auto& w : workers_)
    if (w.host.address() == host) return &w;
  return nullptr;
}

Worker& WorkerPool::next() { return workers_[turn_++ % workers_.size()]; }

Worker& WorkerPool::next_not_slow(clock::time_point now) {
  for (std::size_t tries = 0; tries < workers_.size(); ++tries) {
    Worker& w = next();
    if (w.slow_until <= now) return w;
  }
  return next();
}

Worker* WorkerPool::other_than(const std::vector<caf::actor_addr>& hosts) {
  for (auto& w : workers_)
    if (std::find(hosts.begin(), hosts.end(), w.host.address()) == hosts.end()) return &w;
  return nullptr;
}

void TaskTimes::add(double ms) {
  ms_.push_back(ms);
  if (ms_.size() > 200) ms_.pop_front();
}

std::optional<double> TaskTimes::median() const {
  if (ms_.size() < 10) return std::nullopt;
  std::vector<double> sorted(ms_.begin(), ms_.end());
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  return sorted[sorted.size() / 2];
}

}  // namespace trib
