// The coordinator's side of its workers, on the coordinator's thread: it
// admits a joining worker (worker membership decides, actors/worker_membership.hpp),
// sends the heartbeats membership asks for, gives up on workers that are
// lost or overdue, and carries a loss to the parts that must react (Flink's
// HeartbeatManager reports, the JobMaster reacts): the dispatcher runs the
// worker's tasks again, the executor makes its kept shuffle blocks again,
// placement rebuilds its state partitions elsewhere, and a checkpoint being
// taken starts over.
//
// Protocol (worker -> coordinator):  (join_atom, host, fingerprint) -> joined_atom / error
// Protocol (coordinator -> host):    (ping_atom) -> ping_atom;  (evicted_atom, why)
//                                    (actors/partition_host.hpp)
#pragma once

#include <memory>
#include <string>

#include <caf/all.hpp>

#include "actors/batch_executor.hpp"
#include "actors/checkpoint_rounds.hpp"
#include "actors/state_placement.hpp"
#include "actors/status_reporter.hpp"
#include "actors/task_dispatcher.hpp"
#include "actors/worker_membership.hpp"
#include "dstream/core/job_monitor.hpp"

namespace trib {

class WorkerLink {
 public:
  // The parts a worker's loss reaches; checkpoints is null without checkpoints.
  struct Parts {
    WorkerMembership& membership;
    TaskDispatcher& dispatcher;
    StatePlacement& placement;
    BatchExecutor& executor;
    StatusReporter& status;
    CheckpointRounds* checkpoints;
    std::shared_ptr<JobMonitor> monitor;
  };
  // `failed`: the job cannot go on (a lost worker's state cannot be restored).
  WorkerLink(caf::event_based_actor* self, Parts parts, std::function<void(const std::string&)> failed)
      : self_(self), parts_(std::move(parts)), failed_(std::move(failed)) {}

  // A worker asks to join with its partition host: admitted (and monitored;
  // returns "") or refused (returns why); either way reported as a job event.
  std::string join(const caf::actor& host, const std::string& fingerprint);

  // The periodic check: pings the workers membership says are due, and
  // gives up on those that answered none in time or sit on a state task
  // past the timeout (each is told why, should it wake up).
  void check(std::chrono::steady_clock::time_point now);

  // Gives up on `host` if it is a worker (it died, was cut off, or stopped
  // answering): false if it is none.
  bool lose(const caf::actor_addr& host, const std::string& why);

 private:
  caf::event_based_actor* self_;
  Parts parts_;
  std::function<void(const std::string&)> failed_;
};

}  // namespace trib
