// Taking a checkpoint, on the coordinator's thread: the messaging around the
// plain checkpoint coordinator (actors/checkpoint_coordinator.hpp, which keeps
// the one pending checkpoint). begin() asks every partition host for its
// state snapshot; once the last current answer is in, the checkpoint is
// written, counted on the status page, reported as a job event, and handed
// to the listener. A host lost meanwhile: retake() starts the round over.
//
// Protocol (coordinator -> every partition host):
//   (snapshot_atom, path) -> HostSnapshot   (actors/partition_host.hpp)
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/checkpoint_coordinator.hpp"
#include "actors/status_reporter.hpp"
#include "dstream/core/job_events.hpp"

namespace trib {

class CheckpointRounds {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // Every host that may hold state partitions, with its label.
    virtual std::vector<std::pair<caf::actor, std::string>> snapshot_hosts() = 0;
    // `cp` is on disk. Input before `replay_needed_from` (the oldest kept
    // checkpoint's positions) is needed by no restart, and no restart forms
    // a batch at or before `replay_needed_after` (that checkpoint's batch
    // time) again.
    virtual void checkpoint_written(const Checkpoint& cp, const std::map<int32_t, std::string>& replay_needed_from,
                                    std::optional<int64_t> replay_needed_after) = 0;
    // A snapshot or the checkpoint could not be written: the job ends.
    virtual void checkpoint_failed(const std::string& why) = 0;
  };

  CheckpointRounds(caf::event_based_actor* self, const Graph& graph, std::string dir, StatusReporter& status,
                   EventSink events, Listener& listener);

  bool in_progress() const { return checkpoints_.in_progress(); }

  // Begins checkpoint `cp` (the coordinator's part: clock, positions, node
  // states); no batch may run until it is written.
  void begin(Checkpoint cp);

  // A host was lost during the round: its snapshot may be missing, so the
  // round starts over with the hosts there are now. No-op without a round.
  void retake();

 private:
  void request(const std::vector<CheckpointCoordinator::SnapshotRequest>& requests);
  void answered(int round, const std::string& path, HostSnapshot& snapshot);
  void write();

  caf::event_based_actor* self_;
  const Graph& graph_;
  CheckpointCoordinator checkpoints_;
  StatusReporter& status_;
  EventSink events_;
  Listener& listener_;
  std::vector<HostSnapshot> snapshots_;  // of the current round, for the status page
  std::set<int> stateless_operators_;    // actor operators that answer no snapshot (warned once)
};

}  // namespace trib
