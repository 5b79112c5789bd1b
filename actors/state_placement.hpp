// Where state partitions live (Flink's slot allocation, for keyed state).
//
// A partition (stateful node or actor operator, one reduce partition) is
// placed on first use: on a worker when there is one and checkpoints are on,
// else here. Tasks of partitions on workers are logged until the next
// checkpoint: when a worker is lost, each of its partitions is restored on a
// new host from the last checkpoint's state file and its logged tasks replay
// in order. Each new placement bumps the partition's attempt, so results from
// an earlier placement are recognised as stale.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/task_outbox.hpp"
#include "actors/worker_pool.hpp"
#include "dstream/core/graph.hpp"
#include "dstream/core/job_events.hpp"
#include "recovery/checkpoint.hpp"

namespace trib {

class StatePlacement {
 public:
  using clock = std::chrono::steady_clock;

  // checkpoint_dir empty: no checkpoints, so partitions never leave this process.
  // Reports partition_placed and partition_moved to `events`.
  StatePlacement(const Graph& graph, WorkerPool& workers, caf::actor local_host, TaskOutbox& outbox,
                 std::string checkpoint_dir, EventSink events);

  // Start-up from checkpoint `cp`: partitions are restored where they are
  // first placed.
  void recover(const Checkpoint& cp);

  // Sends the task to its partition's host (placing the partition first).
  void run(TaskSpec spec, clock::time_point now);

  // Whether a reduce result of a state partition is from its current
  // placement; a fresh one ends the wait on that partition's task.
  bool accept(const TaskResult& result);

  // Moves every partition on `host` (a lost worker) to another host.
  // Returns how many; throws if a state file cannot be read.
  std::size_t lose_worker(const caf::actor_addr& host, clock::time_point now);

  // Places partitions restored at start-up but not used since, so they are
  // part of the next checkpoint.
  void place_unplaced();

  // A checkpoint was written: it holds every partition's state, so the
  // replay log starts over and partitions spread evenly over the workers.
  void checkpoint_written(const std::map<PartitionKey, std::string>& state_files);

  // Workers sitting on a state task longer than `timeout`, with why.
  std::vector<std::pair<caf::actor_addr, std::string>> overdue(clock::time_point now,
                                                               std::chrono::milliseconds timeout) const;

  // How many partitions `host` holds.
  std::size_t on(const caf::actor_addr& host) const;

  // Every placed partition and the host holding it (the status page).
  std::vector<std::pair<PartitionKey, caf::actor_addr>> placed() const;

 private:
  struct Placement {
    caf::actor host;
    bool remote = false;
    std::string label;
    int32_t attempt = 0;
    // Its newest task, while out: a worker that sits on it too long is given up on.
    std::optional<clock::time_point> task_sent;
    int64_t task_batch = 0;
  };

  Placement& place(const PartitionKey& key);
  void assign_host(const PartitionKey& key, Placement& p);
  void relocate(const PartitionKey& key, StateSnapshotReader& snapshots, clock::time_point now);
  void rebalance();

  const Graph& graph_;
  WorkerPool& workers_;
  caf::actor local_host_;
  TaskOutbox& outbox_;
  std::string checkpoint_dir_;
  EventSink events_;
  std::map<PartitionKey, Placement> placements_;
  // Tasks of partitions on workers since the last checkpoint.
  std::map<PartitionKey, std::vector<TaskSpec>> replay_log_;
  // The last checkpoint's manifest: which state file holds each partition.
  std::map<PartitionKey, std::string> state_files_;
  // State read from the recovered checkpoint, for partitions not placed yet.
  std::map<PartitionKey, std::string> pending_restore_;
};

}  // namespace trib
