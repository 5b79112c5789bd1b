// The batch executor: runs the job graph over each formed batch (Spark's
// JobSet + DStreamGraph.generateJobs). Plain C++, no messaging: a batch comes
// in formed, tasks go out through the listener, finished tasks come back,
// and the listener hears of each output's data and of each completed batch.
//
// Per batch, every node whose inputs are done starts: one map task per
// partition of each input edge, then (shuffles) one reduce task per reduce
// partition, then the node's finish(). Ordered nodes (state across batches)
// take their turns in batch time order even when batches run concurrently.
// Where tasks run is not its business; it only tells stateful reduce tasks
// (which need their partition's state) from stateless ones.
//
// Map-ahead (Drizzle's pre-scheduling, SOSP'17): a receiver's input may come
// in slots while its interval is still open (add_slot). When every node that
// reads the source only maps it into a shuffle, each slot's map tasks run at
// once, so the workers start on a batch before it forms and the slot's read
// buffers go back to the receiver long before the batch ends. The batch keeps
// its order: no reduce task, output or state update runs before it formed
// and its turn came.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "dstream/core/batch_info.hpp"
#include "dstream/core/graph.hpp"
#include "dstream/core/job_events.hpp"

namespace trib {

using steady = std::chrono::steady_clock;

// A batch whose sources all delivered (BatchFormed).
struct FormedBatch {
  int64_t time = 0;
  int64_t index = 0;  // k: time = zero + (k + 1) * interval
  int64_t records = 0;
  steady::time_point interval_end;
  std::map<int, Dataset> source_data;               // by source node
  std::map<int32_t, std::string> source_positions;  // after this batch's poll
  bool end_of_input = false;  // the last batch: every source ended (TaskContext::end_of_input)
};

// A batch whose nodes all ran and whose outputs were emitted.
struct CompletedBatch {
  BatchInfo info;
  std::map<int32_t, std::string> source_positions;
};

class ExecutorListener {
 public:
  virtual ~ExecutorListener() = default;
  // A task is ready to run. holds_state: the reduce task of a state
  // partition (stateful node or actor operator), to run where the state is.
  virtual void task_ready(TaskSpec spec, bool holds_state) = 0;
  // An output node's data for batch `time`, for the sink.
  virtual void output_ready(int64_t time, int32_t node, Dataset data) = 0;
  virtual void batch_completed(const CompletedBatch& batch) = 0;
  // A task failed or an operator broke its contract: the job cannot go on.
  virtual void failed(const std::string& why) = 0;
  // Something worth telling (shuffle_blocks_lost).
  virtual void event(JobEvent e) { (void)e; }
};

class BatchExecutor {
 public:
  BatchExecutor(std::shared_ptr<const Graph> graph, int max_concurrent_batches,
                ExecutorListener& listener);

  // Does node `id` feed an output (only those run)?
  bool needed(int id) const { return needed_[id]; }

  // Takes a formed batch (batches form in time order); it waits in the ready
  // queue until start_ready(). Returns the outputs that run in it.
  std::vector<int32_t> add(FormedBatch batch);

  // Can source `id`'s input be mapped ahead, slot by slot?
  bool maps_ahead(int id) const { return ahead_sources_.count(id) > 0; }  // dstream/core/map_ahead.hpp
  // Does mapping it ahead still pay (map_ahead_pays)?
  bool map_ahead_pays(int id) const;
  // Records a key its readers' combines kept (combine_records_per_key).
  double ahead_records_per_key(int id) const;

  // The next slot of map-ahead source `id`'s input to batch t (index k),
  // before the batch forms; the batch's block then holds the slots after it.
  // Its map tasks start now. `expected_slots`: slots per batch, as the map
  // tasks' TaskContext::num_partitions.
  void add_slot(int64_t t, int64_t k, int id, Dataset slot, int expected_slots);

  // Starts ready batches while fewer than max_concurrent_batches run. The
  // caller decides whether starting is allowed (checkpoint, worker gate).
  void start_ready(steady::time_point now);

  // A task's result (a duplicate or stale one is ignored). `keeper`: for a
  // map task whose buckets stayed on a worker, that worker's host.
  void task_finished(TaskResult& result, const caf::actor& keeper, steady::time_point now);

  // Map outputs kept on `host` are gone (the worker was lost): runs those
  // map tasks again; reduce tasks still missing are sent again after.
  void lose_kept_outputs(const caf::actor_addr& host);

  // The sink emitted batch `time`'s outputs.
  void batch_emitted(int64_t time, steady::time_point now);

  std::size_t batches() const;  // formed, not completed

 private:
  struct MapOutput {
    bool done = false;
    std::vector<Partition> outputs;
    caf::actor host;      // set: the outputs stayed there
    bool ahead = false;   // sent ahead, before its node started
  };
  struct NodeRun {
    enum Status { waiting, mapping, reducing, done };
    Status status = waiting;
    int pending = 0;                              // tasks still out
    std::vector<std::vector<MapOutput>> map_out;  // [edge][map task]
    // Reducing: map tasks running again because their worker (and the
    // buckets it kept) was lost; missing reduce tasks are sent again once
    // they are done, as attempt shuffle_attempt.
    int remaps = 0;
    int32_t shuffle_attempt = 0;
    Dataset reduce_out;
    Dataset result;  // the node's dataset, when it produces one
  };
  struct BatchRun {
    FormedBatch formed;
    bool is_formed = false;  // add() took it (else: only slots mapped ahead so far)
    std::map<int, std::size_t> slots;  // per source: its first partitions, which came as slots
    bool started = false;
    bool computed = false;  // every node of the batch finished
    bool emitted = false;   // the sink ran the batch's outputs
    steady::time_point started_at;
    std::vector<NodeRun> nodes;
  };
  using Lost = std::vector<std::pair<int32_t, int32_t>>;  // (edge, map task)

  const Graph& graph() const { return *graph_; }
  void advance(BatchRun& run, steady::time_point now);
  void start_map(BatchRun& run, const Node& n, steady::time_point now);
  TaskSpec map_spec(const BatchRun& run, const Node& n, int e, int i) const;
  TaskSpec reduce_spec(const BatchRun& run, const Node& n, int r) const;
  void map_done(BatchRun& run, const Node& n, steady::time_point now);
  void redo_map_outputs(BatchRun& run, const Node& n, const Lost& lost);
  void resend_missing_reduces(BatchRun& run, const Node& n);
  void node_done(BatchRun& run, const Node& n, std::vector<Dataset> outputs, steady::time_point now);
  void maybe_complete(BatchRun& run, steady::time_point now);
  BatchRun& run_of(int64_t t);
  void release_mapped_input(BatchRun& run, const Node& n, int i);

  std::shared_ptr<const Graph> graph_;
  int max_concurrent_;
  ExecutorListener& listener_;
  std::vector<bool> needed_;
  std::map<int, std::vector<int>> ahead_sources_;   // map-ahead source -> the nodes reading it
  std::map<int64_t, BatchRun> batches_;            // not yet completed, by time
  std::deque<int64_t> ready_;                       // formed, waiting for a free slot
  int running_ = 0;
  std::vector<std::deque<int64_t>> ordered_turns_;  // per node: batch times, in order
};

}  // namespace trib
