#include "actors/state_placement.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace trib {

StatePlacement::StatePlacement(const Graph& graph, WorkerPool& workers, caf::actor local_host,
                               TaskOutbox& outbox, std::string checkpoint_dir, EventSink events)
    : graph_(graph),
      workers_(workers),
      local_host_(std::move(local_host)),
      outbox_(outbox),
      checkpoint_dir_(std::move(checkpoint_dir)),
      events_(std::move(events)) {}

void StatePlacement::recover(const Checkpoint& cp) {
  pending_restore_ = cp.partition_states;
  state_files_ = cp.state_files;
}

StatePlacement::Placement& StatePlacement::place(const PartitionKey& key) {
  auto it = placements_.find(key);
  if (it != placements_.end()) return it->second;
  Placement& p = placements_[key];
  assign_host(key, p);
  if (auto bytes = pending_restore_.find(key); bytes != pending_restore_.end()) {
    // Sent before any task of the partition: the host restores first.
    outbox_.send_restore(p.host, key, std::move(bytes->second));
    pending_restore_.erase(bytes);
  }
  return p;
}

void StatePlacement::assign_host(const PartitionKey& key, Placement& p) {
  bool remote = !workers_.empty() && !checkpoint_dir_.empty();
  if (remote) {
    Worker& w = workers_.next();
    p.host = w.host;
    p.label = w.label;
  } else {
    p.host = local_host_;
    p.label = "the coordinator";
  }
  p.remote = remote;
  spdlog::info("state partition {} of {} (node {}) placed on {}", key.second,
               graph_.nodes[key.first]->name, key.first, p.label);
  JobEvent e;
  e.kind = JobEvent::Kind::partition_placed;
  e.worker = p.label;
  e.node = key.first;
  e.node_name = graph_.nodes[key.first]->name;
  e.partition = key.second;
  events_(std::move(e));
}

void StatePlacement::run(TaskSpec spec, clock::time_point now) {
  PartitionKey key{spec.id.node, spec.id.index};
  Placement& p = place(key);
  spec.attempt = p.attempt;
  if (p.remote) {
    replay_log_[key].push_back(spec);
    p.task_sent = now;
    p.task_batch = spec.id.batch_time;
  }
  outbox_.send_task(p.host, std::move(spec));
}

bool StatePlacement::accept(const TaskResult& result) {
  auto p = placements_.find({result.id.node, result.id.index});
  if (p == placements_.end() || p->second.attempt != result.attempt) return false;
  if (result.id.batch_time >= p->second.task_batch) p->second.task_sent.reset();
  return true;
}

// Restores the last checkpoint's state on the partition's new host, then
// replays every task it ran since, in order; results of batches already
// complete are ignored, the one in flight counts.
void StatePlacement::relocate(const PartitionKey& key, StateSnapshotReader& snapshots,
                              clock::time_point now) {
  Placement& p = placements_.at(key);
  ++p.attempt;
  p.task_sent.reset();
  assign_host(key, p);
  if (auto file = state_files_.find(key); file != state_files_.end())
    outbox_.send_restore(p.host, key, snapshots.partition(file->second, key));
  for (auto spec : replay_log_[key]) {
    spec.attempt = p.attempt;
    p.task_sent = now;
    p.task_batch = spec.id.batch_time;
    outbox_.send_task(p.host, std::move(spec));
  }
  if (!p.remote) replay_log_.erase(key);  // here it cannot be lost
}

std::size_t StatePlacement::lose_worker(const caf::actor_addr& host, clock::time_point now) {
  std::vector<PartitionKey> moved;
  for (auto& [key, p] : placements_)
    if (p.remote && p.host.address() == host) moved.push_back(key);
  StateSnapshotReader snapshots(checkpoint_dir_);
  for (auto& key : moved) relocate(key, snapshots, now);
  return moved.size();
}

void StatePlacement::place_unplaced() {
  std::vector<PartitionKey> unplaced;
  for (auto& [key, bytes] : pending_restore_) unplaced.push_back(key);
  for (auto& key : unplaced) place(key);
}

void StatePlacement::checkpoint_written(const std::map<PartitionKey, std::string>& state_files) {
  state_files_ = state_files;
  replay_log_.clear();
  rebalance();
}

// Right after a checkpoint, when no batch runs and every partition's state is
// in the checkpoint's files: spreads the partitions evenly over the workers,
// moving those here (placed before any worker joined) or on the busiest
// worker to the least busy one.
void StatePlacement::rebalance() {
  if (workers_.empty()) return;
  std::map<caf::actor_addr, std::vector<PartitionKey>> held;
  for (auto& w : workers_.all()) held[w.host.address()];
  std::vector<PartitionKey> here;
  for (auto& [key, p] : placements_) {
    if (!state_files_.count(key)) continue;  // no snapshot: its state could not move
    if (p.remote)
      held[p.host.address()].push_back(key);
    else
      here.push_back(key);
  }
  auto by_load = [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); };
  StateSnapshotReader snapshots(checkpoint_dir_);
  auto move_to_least_busy = [&](const PartitionKey& key) {
    auto least = std::min_element(held.begin(), held.end(), by_load);
    Worker* to = workers_.find(least->first);
    Placement& p = placements_.at(key);
    outbox_.send_drop(p.host, key);
    spdlog::info("moving state partition {} of {} (node {}) from {} to {}", key.second,
                 graph_.nodes[key.first]->name, key.first, p.label, to->label);
    JobEvent e;
    e.kind = JobEvent::Kind::partition_moved;
    e.from = p.label;
    e.worker = to->label;
    e.node = key.first;
    e.node_name = graph_.nodes[key.first]->name;
    e.partition = key.second;
    events_(std::move(e));
    ++p.attempt;
    p.host = to->host;
    p.label = to->label;
    p.remote = true;
    outbox_.send_restore(p.host, key, snapshots.partition(state_files_.at(key), key));
    least->second.push_back(key);
  };
  for (auto& key : here) move_to_least_busy(key);
  for (;;) {
    auto most = std::max_element(held.begin(), held.end(), by_load);
    auto least = std::min_element(held.begin(), held.end(), by_load);
    if (most->second.size() <= least->second.size() + 1) break;
    PartitionKey key = most->second.back();
    most->second.pop_back();
    move_to_least_busy(key);
  }
}

std::vector<std::pair<caf::actor_addr, std::string>> StatePlacement::overdue(
    clock::time_point now, std::chrono::milliseconds timeout) const {
  std::vector<std::pair<caf::actor_addr, std::string>> late;
  for (auto& [key, p] : placements_)
    if (p.remote && p.task_sent && now - *p.task_sent > timeout)
      late.emplace_back(p.host.address(), "a task of state partition " + std::to_string(key.second) +
                                              " ran longer than " + std::to_string(timeout.count()) + " ms");
  return late;
}

std::size_t StatePlacement::on(const caf::actor_addr& host) const {
  std::size_t n = 0;
  for (auto& [key, p] : placements_)
    if (p.remote && p.host.address() == host) ++n;
  return n;
}

std::vector<std::pair<PartitionKey, caf::actor_addr>> StatePlacement::placed() const {
  std::vector<std::pair<PartitionKey, caf::actor_addr>> out;
  for (auto& [key, p] : placements_) out.emplace_back(key, p.host.address());
  return out;
}

}  // namespace trib
