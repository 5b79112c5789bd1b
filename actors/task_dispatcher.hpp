// The task dispatcher: where stateless tasks run (Flink's ExecutionDeployer).
// With no worker nodes, here. Else a map task runs here while fewer than
// `local_map_slots` of them do, since its input is here already (the
// receivers' blocks, results collected from workers): only its buckets,
// combined, cross the network, as Flink chains a source with its map side
// and Spark prefers a block's own executor. The rest go to the next worker
// in turn, remembered until their result arrives so a lost worker's tasks
// run again elsewhere, and a task that runs far longer than usual gets a
// copy on another node (Spark's speculation): the first result counts, the
// executor drops the second.
#pragma once

#include <chrono>
#include <map>
#include <vector>

#include <caf/all.hpp>

#include "actors/task_identity.hpp"
#include "actors/task_outbox.hpp"
#include "actors/worker_pool.hpp"
#include "dstream/core/job_events.hpp"

namespace trib {

struct SpeculationPolicy {
  bool enabled = true;
  // A task gets a copy once it has run 4x the median task time, and at least this.
  int64_t min_ms = 500;
};

class TaskDispatcher {
 public:
  using clock = std::chrono::steady_clock;

  // Reports task_speculated to `events`. local_map_slots: map tasks that
  // run here at once while there are workers (0: none).
  TaskDispatcher(const Graph& graph, WorkerPool& workers, caf::actor local_host, TaskOutbox& outbox,
                 SpeculationPolicy policy, EventSink events, int local_map_slots = 0);

  // Runs a stateless task: a map task here if a local slot is free, else
  // on the next worker not marked slow (here when there are none).
  void run(TaskSpec spec, clock::time_point now);

  // A task's result arrived: it is no longer in flight.
  void finished(const TaskResult& result, clock::time_point now);

  // `host` is gone: its tasks that no other worker runs start again.
  // Returns how many.
  std::size_t lose_worker(const caf::actor_addr& host, clock::time_point now);

  // Copies tasks that run too long onto another node; marks their worker slow.
  void speculate(clock::time_point now);

  // Tasks in flight that only `host` runs (lose_worker would run them again).
  std::size_t on(const caf::actor_addr& host) const;

 private:
  struct InFlight {
    TaskSpec spec;
    clock::time_point sent;
    std::vector<caf::actor_addr> hosts;  // the nodes running it
    bool speculated = false;
    bool local = false;  // holds one of the local map slots
  };
  void release_slot(const InFlight& f) {
    if (f.local) --local_maps_;
  }

  const Graph& graph_;
  WorkerPool& workers_;
  caf::actor local_host_;
  TaskOutbox& outbox_;
  SpeculationPolicy policy_;
  EventSink events_;
  int local_map_slots_;
  int local_maps_ = 0;  // map tasks in flight here
  std::map<TaskId, InFlight> in_flight_;
  TaskTimes task_times_;
};

}  // namespace trib
