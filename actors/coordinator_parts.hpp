// The coordinator's parts for one job, built in the order they depend on
// each other (the composition root of actors/coordinator.cpp): the actors it
// spawns (sink, this process's partition host, receivers and pollers) and
// the plain parts over them. It owns them; the coordinator's shell
// (actors/coordinator.cpp) routes messages to them and reacts to their
// events, through the listeners passed in here.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <caf/all.hpp>

#include "actors/batch_clock.hpp"
#include "actors/batch_executor.hpp"
#include "actors/checkpoint_rounds.hpp"
#include "actors/coordinator.hpp"
#include "actors/host_outbox.hpp"
#include "actors/sink_actor.hpp"
#include "actors/source_actors.hpp"
#include "actors/source_tracker.hpp"
#include "actors/state_placement.hpp"
#include "actors/status_reporter.hpp"
#include "actors/task_dispatcher.hpp"
#include "actors/worker_link.hpp"
#include "actors/worker_membership.hpp"

namespace trib {

struct CoordinatorParts {
  // Spawns the job's actors (monitored by `self`) and builds the parts.
  // `cfg.status` is set to a board of its own when null. Checkpoint rounds
  // exist only with a checkpoint directory.
  CoordinatorParts(caf::event_based_actor* self, CoordinatorConfig& cfg, ExecutorListener& batches,
                   CheckpointRounds::Listener& checkpointed, std::function<void(const std::string&)> failed);

  BatchClock clock;
  BatchExecutor executor;
  WorkerMembership membership;
  sink_actor sink;
  caf::actor local_host;
  SourceActors inputs;  // receivers and pollers
  std::optional<StatusReporter> status;
  std::optional<HostOutbox> outbox;
  std::optional<TaskDispatcher> dispatcher;
  std::optional<StatePlacement> placement;
  std::optional<SourceTracker> sources;
  std::optional<CheckpointRounds> checkpoints;
  std::optional<WorkerLink> workers;
};

}  // namespace trib
