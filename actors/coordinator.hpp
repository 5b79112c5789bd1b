// The batch coordinator: the actor that drives a job.
//
// Every batch interval it closes the interval (asks each receiver for the
// records accepted since the last close, polls receiver-less sources), then
// runs the job graph over the batch: for each node whose inputs are ready it
// spawns one task actor per partition, collects their results, runs the
// reduce phase of shuffles, and hands output nodes' data to the sink actor,
// which emits batches in time order and acknowledges each one. With
// map-ahead (CoordinatorConfig::map_ahead_slots), it also takes the input of
// the open interval at each slot boundary and starts its map tasks then
// (actors/batch_executor.hpp).
//
// With worker nodes (--listen), stateless tasks run on the workers and state
// partitions are placed on them (with checkpoints on); see WorkerLink::lose()
// (actors/worker_link.hpp) for what happens when one is lost, and
// actors/partition_host.hpp.
//
// With checkpoints on, after every checkpoint_every-th batch completes the
// coordinator pauses (no batch runs), collects the partition executors'
// state and the source positions, and writes a checkpoint before going on.
//
// Dynamically typed: workers reach it over the network (remote_actor), and
// in CAF 0.17 a typed handle would have to match the worker's expected
// interface exactly at connect time, across versions of the binary; the
// message inspectors check what arrives instead (see actors/partition_host.hpp).
//
//   (status_atom)                every second: publishes the job's status
//                                (actors/status_reporter.hpp)
//   (stop_atom, bool graceful)   stop; graceful stops the receivers, closes
//                                one last interval with everything they
//                                accepted, and finishes every batch first.
//                                Obeyed only after JobMonitor::request_stop
//                                (this process asked); otherwise ignored.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <caf/all.hpp>

#include "dstream/core/job_monitor.hpp"
#include "dstream/core/job_status.hpp"
#include "dstream/core/graph.hpp"
#include "recovery/checkpoint.hpp"

namespace trib {

struct CoordinatorConfig {
  std::shared_ptr<const Graph> graph;
  std::shared_ptr<JobMonitor> monitor;
  int receiver_partitions = 2;     // partitions each receiver cuts a block into
  int max_concurrent_batches = 1;  // batches computed at the same time
  // Map-ahead (actors/batch_executor.hpp): receivers whose input only feeds
  // shuffles hand it over in this many slots per interval, each mapped as
  // it arrives. 0 or 1: off (dstream/core/map_ahead.hpp resolves it, off
  // with backpressure).
  int map_ahead_slots = 0;
  // Stop a source's slots once they no longer pay (map_ahead_pays); false:
  // slots as asked, whatever the combine keeps.
  bool map_ahead_adaptive = true;
  // The receive-buffer budget once no receiver maps ahead, when that stops
  // (io/line_splitter.hpp; 0: keep the one set).
  std::size_t receive_buffer_without_slots = 0;
  double max_rate_per_receiver = 0;  // records/s; 0: unlimited
  bool backpressure = false;         // adapt receivers' rate to the processing rate
  // Checkpoints: written to checkpoint_dir after every checkpoint_every-th
  // batch (none if empty); `recovered` is where a restarted job resumes.
  std::string checkpoint_dir;
  int checkpoint_every = 1;
  std::optional<Checkpoint> recovered;
  bool accept_wal_loss = false;  // replay past corrupt log entries (reported by getOrCreate)
  // Worker nodes: one that answers no heartbeat, or sits on a state task,
  // for this long is given up on; a stateless task out for 4x the median
  // task time (at least speculation_min_ms) gets a copy on another node.
  int64_t worker_timeout_ms = 10000;
  bool speculation = true;
  int64_t speculation_min_ms = 500;
  // With workers, map tasks that run on this node at once (their input is
  // here); 0: every task goes to the workers.
  int local_map_slots = 0;
  // Wait for this many workers before the first batch, at most the wait.
  int min_workers = 0;
  int64_t min_workers_wait_ms = 30000;
  // > 0: the job ends once batches 0..n-1 are complete (indexes count from
  // the job's first batch, across restarts); no later interval is closed.
  int64_t stop_after_batches = 0;
  // Where the job's status is published every second and after each batch
  // (the web UI, /metrics); null: a board of its own. A progress line is
  // logged every progress_ms (0: never).
  std::shared_ptr<StatusBoard> status;
  int64_t progress_ms = 10000;
};

caf::actor spawn_coordinator(caf::actor_system& sys, CoordinatorConfig config);

}  // namespace trib
