// The checkpoint coordinator (Flink's CheckpointCoordinator + PendingCheckpoint):
// one checkpoint at a time, taken while no batch runs.
//
// begin() makes the pending checkpoint: the coordinator's part (time origin,
// source positions, node states) plus one state snapshot to collect from
// each partition host. Each host's answer names the partitions it wrote;
// once all are in, write() saves the checkpoint. A host lost meanwhile makes
// the snapshots incomplete: retake() starts the same checkpoint over with the
// hosts there are now, and answers of the abandoned round are ignored.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "recovery/checkpoint.hpp"

namespace trib {

class CheckpointCoordinator {
 public:
  explicit CheckpointCoordinator(std::string dir);

  const std::string& dir() const { return store_.dir(); }
  bool in_progress() const { return pending_.has_value(); }

  // One state snapshot to ask a host for: write it to `path`.
  struct SnapshotRequest {
    caf::actor host;
    std::string label;  // "coordinator", "worker-2": in the file name and errors
    std::string path;
    int round = 0;
  };

  // Begins the checkpoint `base` (its state_files still empty) over `hosts`.
  std::vector<SnapshotRequest> begin(Checkpoint base,
                                     std::vector<std::pair<caf::actor, std::string>> hosts);

  // Starts the pending checkpoint over with these hosts (one was lost).
  std::vector<SnapshotRequest> retake(std::vector<std::pair<caf::actor, std::string>> hosts);

  // A host's answer for `round`. True when it was the last one outstanding:
  // write() may run. Answers of an abandoned round are ignored (false).
  bool snapshot_written(int round, const std::string& path, const HostSnapshot& snapshot);

  // Is `round` the current one (an error from an abandoned round is moot)?
  bool current(int round) const { return pending_ && round == round_; }

  // Saves the pending checkpoint (every snapshot is in) and returns it;
  // throws std::runtime_error if it cannot be written. Ends the checkpoint
  // either way.
  Checkpoint write();

  // Bytes on disk of a written checkpoint: its file and the state files it names.
  int64_t bytes_on_disk(const Checkpoint& cp) const;

  // Where the oldest kept checkpoint resumes each source: input before it
  // is needed by no checkpoint a restart may fall back to.
  std::map<int32_t, std::string> replay_needed_from() const { return store_.oldest_positions(); }
  // Batch time of the oldest kept checkpoint: no restart forms a batch at or before it again.
  std::optional<int64_t> replay_needed_after() const { return store_.oldest_batch_time(); }

 private:
  struct Pending {
    Checkpoint cp;
    std::size_t outstanding = 0;
  };
  std::vector<SnapshotRequest> requests(const std::vector<std::pair<caf::actor, std::string>>& hosts);

  CheckpointStore store_;
  std::optional<Pending> pending_;
  int round_ = 0;
};

}  // namespace trib
