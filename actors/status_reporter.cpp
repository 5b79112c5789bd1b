#include "actors/status_reporter.hpp"

#include <spdlog/spdlog.h>

namespace trib {
namespace {

std::string node_name(const caf::node_id& node) {
  return node ? caf::to_string(node) : "this process";  // no middleman: no node id
}

}  // namespace

StatusReporter::StatusReporter(std::shared_ptr<StatusBoard> board, const Graph& graph,
                               std::string checkpoint_dir, int64_t progress_ms, int64_t wall_now,
                               clock::time_point now)
    : board_(std::move(board)), graph_(graph), progress_ms_(progress_ms), last_progress_(now) {
  board_->update([&](JobStatus& s) {
    s.state = "running";
    s.started_wall_ms = wall_now;
    s.wall_ms = wall_now;
    s.batch_interval_ms = graph.batch_interval_ms;
    s.checkpoints.enabled = !checkpoint_dir.empty();
    s.checkpoints.dir = std::move(checkpoint_dir);
  });
}

void StatusReporter::receiver_started(int32_t stream, std::shared_ptr<ReceiverHealth> health) {
  receivers_[stream].health = std::move(health);
}

void StatusReporter::block_delivered(int32_t stream, int64_t records, int64_t interval_ms) {
  auto it = receivers_.find(stream);
  if (it != receivers_.end() && interval_ms > 0)
    it->second.rate = static_cast<double>(records) * 1000.0 / static_cast<double>(interval_ms);
}

void StatusReporter::worker_lost(const std::string& label, const caf::node_id& node, const std::string& why) {
  WorkerStatus w;
  w.label = label;
  w.node = node_name(node);
  w.state = "lost";
  w.lost_reason = why;
  auto counts = tasks_.find(node);
  if (counts != tasks_.end()) {
    w.tasks_completed = counts->second.answered;
    tasks_.erase(counts);
  }
  lost_.push_back(std::move(w));
  while (lost_.size() > kLost) lost_.pop_front();
  board_->update([](JobStatus& s) { ++s.workers_lost; });
}

void StatusReporter::checkpoint_written(int64_t batch_time_ms, int64_t bytes,
                                        const std::vector<HostSnapshot>& snapshots, int64_t wall_now,
                                        clock::time_point now) {
  state_bytes_.clear();
  for (auto& snap : snapshots)
    for (std::size_t i = 0; i < snap.nodes.size() && i < snap.bytes.size(); ++i)
      state_bytes_[snap.nodes[i]] += snap.bytes[i];
  state_measured_ms_ = batch_time_ms;
  CheckpointRecord rec;
  rec.batch_time_ms = batch_time_ms;
  rec.wall_ms = wall_now;
  rec.duration_ms = std::chrono::duration<double, std::milli>(now - checkpoint_started_).count();
  rec.bytes = bytes;
  board_->update([&](JobStatus& s) {
    ++s.checkpoints.written;
    s.checkpoints.recent.push_back(rec);
    while (s.checkpoints.recent.size() > CheckpointStatus::kRecent)
      s.checkpoints.recent.erase(s.checkpoints.recent.begin());
  });
}

void StatusReporter::publish(const Parts& parts, int64_t wall_now, clock::time_point now) {
  std::vector<ReceiverStatus> receivers;
  for (auto& [stream, r] : receivers_) {
    ReceiverStatus rs;
    rs.stream = stream;
    rs.rate = r.rate;
    if (auto& h = r.health) {
      static const char* states[] = {"running", "restarting", "stopped"};
      rs.state = states[h->state.load() % 3];
      rs.records = h->records.load();
      rs.errors = h->errors.load();
      std::lock_guard<std::mutex> lock(h->mutex);
      rs.name = h->name;
      rs.last_error = h->last_error;
      rs.last_error_wall_ms = h->last_error_wall_ms;
    }
    receivers.push_back(std::move(rs));
  }

  // State partitions per host and per operator.
  std::map<caf::actor_addr, int64_t> held;
  std::map<int32_t, int64_t> per_node;
  if (parts.placement)
    for (auto& [key, host] : parts.placement->placed()) {
      ++held[host];
      ++per_node[key.first];
    }
  std::vector<WorkerStatus> workers;
  auto counted = [&](WorkerStatus& w, const caf::node_id& node) {
    auto it = tasks_.find(node);
    if (it == tasks_.end()) return;
    w.tasks_completed = it->second.answered;
    w.tasks_running = std::max<int64_t>(0, it->second.sent - it->second.answered);
  };
  if (parts.local_host) {
    WorkerStatus local;
    local.label = "coordinator";
    local.node = node_name(parts.local_host.node());
    local.state = "local";
    counted(local, parts.local_host.node());
    local.state_partitions = held[parts.local_host.address()];
    workers.push_back(std::move(local));
  }
  if (parts.workers)
    for (auto& w : parts.workers->all()) {
      WorkerStatus ws;
      ws.label = w.label;
      ws.node = node_name(w.host.node());
      ws.state = w.slow_until > now ? "slow" : "alive";
      ws.heartbeat_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - w.last_heartbeat).count();
      counted(ws, w.host.node());
      ws.state_partitions = held[w.host.address()];
      workers.push_back(std::move(ws));
    }
  workers.insert(workers.end(), lost_.begin(), lost_.end());

  std::vector<OperatorStatus> operators;
  for (auto& n : graph_.nodes) {
    if (!n->holds_partition_state()) continue;
    OperatorStatus op;
    op.node = n->id;
    op.name = n->name;
    op.partitions = per_node[n->id];
    if (auto it = state_bytes_.find(n->id); it != state_bytes_.end()) {
      op.state_bytes = it->second;
      op.measured_batch_ms = state_measured_ms_;
    } else if (state_measured_ms_ >= 0) {
      op.state_bytes = 0;  // a checkpoint was taken and held nothing of it
      op.measured_batch_ms = state_measured_ms_;
    }
    operators.push_back(std::move(op));
  }

  board_->update([&](JobStatus& s) {
    s.state = parts.state;
    s.wall_ms = wall_now;
    s.batches_in_flight = parts.batches_in_flight;
    s.received_records = parts.received_records;
    s.receivers = std::move(receivers);
    s.workers = std::move(workers);
    s.operators = std::move(operators);
  });

  if (progress_ms_ > 0 && now - last_progress_ >= std::chrono::milliseconds(progress_ms_)) {
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_progress_).count();
    last_progress_ = now;
    auto report = meter_.report(board_->snapshot(), elapsed);
    spdlog::info("{}", report.line);
    if (!report.warning.empty()) spdlog::warn("{}", report.warning);
  }
}

void StatusReporter::finished(const std::string& error, int64_t wall_now) {
  board_->update([&](JobStatus& s) {
    s.state = error.empty() ? "stopped" : "failed";
    s.error = error;
    s.wall_ms = wall_now;
    s.batches_in_flight = 0;
    for (auto& r : s.receivers) r.state = "stopped";
  });
}

}  // namespace trib
