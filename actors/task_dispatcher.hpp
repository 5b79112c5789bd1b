// The task dispatcher: where stateless tasks run (Flink's ExecutionDeployer).
// With no worker nodes, here; else on the next worker in turn, remembered
// until its result arrives so a lost worker's tasks run again elsewhere, and
// a task that runs far longer than usual gets a copy on another node (Spark's
// speculation): the first result counts, the executor drops the second.
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

  // Reports task_speculated to `events`.
  TaskDispatcher(const Graph& graph, WorkerPool& workers, caf::actor local_host, TaskOutbox& outbox,
                 SpeculationPolicy policy, EventSink events);

  // Runs a stateless task: on the next worker not marked slow, or here.
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
    std::vector<caf::actor_addr> hosts;  // the workers running it
    bool speculated = false;
  };

  const Graph& graph_;
  WorkerPool& workers_;
  caf::actor local_host_;
  TaskOutbox& outbox_;
  SpeculationPolicy policy_;
  EventSink events_;
  std::map<TaskId, InFlight> in_flight_;
  TaskTimes task_times_;
};

}  // namespace trib
