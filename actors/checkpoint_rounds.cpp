#include "actors/checkpoint_rounds.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "actors/batch_clock.hpp"

namespace trib {

CheckpointRounds::CheckpointRounds(caf::event_based_actor* self, const Graph& graph, std::string dir,
                                   StatusReporter& status, EventSink events, Listener& listener)
    : self_(self),
      graph_(graph),
      checkpoints_(std::move(dir)),
      status_(status),
      events_(std::move(events)),
      listener_(listener) {}

void CheckpointRounds::begin(Checkpoint cp) {
  status_.checkpoint_started(std::chrono::steady_clock::now());
  snapshots_.clear();
  request(checkpoints_.begin(std::move(cp), listener_.snapshot_hosts()));
}

void CheckpointRounds::retake() {
  if (!checkpoints_.in_progress()) return;
  snapshots_.clear();
  request(checkpoints_.retake(listener_.snapshot_hosts()));
}

void CheckpointRounds::request(const std::vector<CheckpointCoordinator::SnapshotRequest>& requests) {
  for (auto& req : requests)
    self_->request(req.host, caf::infinite, snapshot_atom::value, req.path)
        .then([this, round = req.round, path = req.path](HostSnapshot& snap) { answered(round, path, snap); },
              [this, round = req.round, label = req.label](caf::error& err) {
                // A worker lost meanwhile makes the coordinator retake().
                if (!checkpoints_.current(round) || err == caf::sec::request_receiver_down) return;
                listener_.checkpoint_failed("cannot write checkpoint: " + label +
                                            " could not write its state snapshot: " + self_->system().render(err));
              });
}

void CheckpointRounds::answered(int round, const std::string& path, HostSnapshot& snap) {
  for (auto id : snap.stateless_nodes)
    if (stateless_operators_.insert(id).second)
      spdlog::warn("operator {} answers no snapshot_atom; its state is not checkpointed", graph_.nodes[id]->name);
  if (checkpoints_.current(round)) snapshots_.push_back(snap);
  if (checkpoints_.snapshot_written(round, path, snap)) write();
}

void CheckpointRounds::write() {
  Checkpoint cp;
  try {
    cp = checkpoints_.write();
  } catch (const std::exception& e) {
    listener_.checkpoint_failed(std::string("cannot write checkpoint: ") + e.what());
    return;
  }
  spdlog::debug("checkpoint written after batch {}", cp.last_batch_time_ms);
  status_.checkpoint_written(cp.last_batch_time_ms, checkpoints_.bytes_on_disk(cp), snapshots_, wall_clock_ms(),
                             std::chrono::steady_clock::now());
  snapshots_.clear();
  JobEvent written;
  written.kind = JobEvent::Kind::checkpoint_written;
  written.batch_time = cp.last_batch_time_ms;
  events_(std::move(written));
  listener_.checkpoint_written(cp, checkpoints_.replay_needed_from(), checkpoints_.replay_needed_after());
}

}  // namespace trib
