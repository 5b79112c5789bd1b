// The job graph: the DStream operations a user declared, as plain data the
// coordinator can run once per batch.
//
// A Node is a point where a DStream's records are materialized: a source, a
// shuffle, a window, an output, ... Chains of narrow operations (map, filter,
// flatMap) are not nodes: they are fused into the Edge function that feeds the
// next node, so one task runs the whole chain over one partition.
//
// Running a node for one batch has up to two phases, each one task actor per
// partition:
//   map phase:    for every edge and every partition of the edge's parent,
//                 edge.fn(partition) -> 1 partition, or N buckets (shuffle write)
//   reduce phase: (shuffles only) for every reduce partition r,
//                 reduce(bucket r of every map task, per edge) -> 1 partition
// then finish() assembles the node's dataset for the batch on the coordinator.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dstream/core/batch_info.hpp"
#include "dstream/core/checksum.hpp"
#include "dstream/core/partition.hpp"

namespace trib {

// A source's receiver (dstream/core/receiver.hpp declares it, with the same
// alias): named here only, so the graph does not compile the receiver API.
class Receiver;
using ReceiverFactory = std::function<std::unique_ptr<Receiver>()>;

// What a running task knows about where it is.
struct TaskContext {
  int64_t batch_time_ms = 0;
  int partition = 0;       // index of the partition this task computes
  int num_partitions = 1;  // partitions of the node's output (reduce side)
  // The job's last batch, after every source reached the end of its input
  // (ReceiverContext::end_of_input): event-time windows still open fire, as
  // Flink's final watermark fires them.
  bool end_of_input = false;
};

class Node;
using NodePtr = std::shared_ptr<Node>;

// One input of a node: the parent's partitions, each run through `fn`.
// fn returns either one partition (the parent's records transformed) or,
// for a shuffle, exactly reduce_partitions() buckets.
using EdgeFn =
    std::function<std::vector<Partition>(const Partition&, const TaskContext&)>;

// What a map-side combining edge's tables took in and kept, summed over the
// tasks of at least kSmallestCounted records that ran in this process.
// Map-ahead reads it to judge whether combining slot by slot pays
// (dstream/core/map_ahead.hpp). Smaller tasks come from a stream slow enough
// that the cores have time to spare for merging its keys again.
struct CombineStats {
  static constexpr uint64_t kSmallestCounted = uint64_t{1} << 18;
  std::atomic<uint64_t> records{0};  // merged into the tables
  std::atomic<uint64_t> keys{0};     // distinct keys the tables handed on
};

struct Edge {
  NodePtr parent;
  EdgeFn fn;
  std::string input;  // e.g. "socketTextStream.flatMap.map", for errors
  std::shared_ptr<CombineStats> combine = nullptr;  // combining edges only
};

// Per-partition state owned by a partition executor actor (stateful nodes).
class PartitionState {
 public:
  virtual ~PartitionState() = default;
  virtual std::string encode() const = 0;           // Cereal bytes, for snapshots
  virtual void decode(const std::string& bytes) = 0;
};

class Node {
 public:
  virtual ~Node() = default;

  int id = -1;             // index in Graph::nodes, stable across processes
  std::string name;        // operator name, for logs and errors
  std::vector<Edge> edges;
  int slide_batches = 1;   // produces a dataset every slide_batches batches
  // True when the node keeps state across batches: its run for batch t
  // must wait until its run for the previous batch has finished.
  bool ordered = false;

  // How the runtime executes the reduce phase: in fresh task actors
  // (stateless), in the partition executor that owns the partition's state
  // (keyed_state), or in the user's actor for the partition (actor_operator,
  // see dstream/core/actor_operator_node.hpp).
  enum class Execution { stateless, keyed_state, actor_operator };
  virtual Execution execution() const { return stateful() ? Execution::keyed_state : Execution::stateless; }
  // Does the reduce phase run where its partition's state lives?
  bool holds_partition_state() const { return execution() != Execution::stateless; }
  // Output nodes run in the sink actor (OutputNode).
  virtual bool is_output() const { return false; }

  // 0: no reduce phase; the map outputs are the node's partitions.
  virtual int reduce_partitions() const { return 0; }

  // Reduce partition `ctx.partition`; buckets[e] holds bucket r of every map
  // task of edge e, in map-task order. `state` is non-null for stateful nodes.
  virtual Partition reduce(const TaskContext& ctx,
                           std::vector<std::vector<Partition>> buckets,
                           PartitionState* state) {
    (void)ctx; (void)buckets; (void)state;
    throw std::logic_error(name + " has no reduce phase");
  }

  // Stateful nodes create one state object per reduce partition; the
  // partition executor actor that owns it passes it to reduce().
  virtual bool stateful() const { return false; }
  virtual std::unique_ptr<PartitionState> make_state(int partition) const {
    (void)partition;
    return nullptr;
  }

  // State the coordinator keeps in the node itself (window history), as
  // bytes for checkpoints. Nodes without such state keep the defaults.
  virtual std::string save_state() const { return {}; }
  virtual void restore_state(const std::string& bytes) { (void)bytes; }

  // Adds what the node knows about batch t to its BatchInfo (event-time
  // nodes: the watermark and late records), on the coordinator when the
  // batch completes.
  virtual void describe_batch(int64_t t, BatchInfo& info) { (void)t; (void)info; }

  // Assemble the dataset of batch `t` from the phase outputs (map outputs
  // per edge when there is no reduce phase, else one-element list holding the
  // reduce outputs). Runs on the coordinator; must be cheap. Called every
  // time the node runs; the return value is used only when it produces.
  virtual Dataset finish(int64_t t, std::vector<Dataset> outputs) {
    (void)t;
    Dataset all;
    for (auto& d : outputs)
      for (auto& p : d) all.push_back(std::move(p));
    return all;
  }
};

// Thrown by SourceNode::poll_until when the input cannot be read yet (the
// upstream is unreachable): nothing of the call is kept, and the runtime
// calls it again after `retry_after` (the batch waits; later batches queue
// behind it).
struct SourceWaiting : std::runtime_error {
  SourceWaiting(const std::string& what, std::chrono::milliseconds retry)
      : std::runtime_error(what), retry_after(retry) {}
  std::chrono::milliseconds retry_after;
};

// A node fed directly by a source instead of by other nodes.
class SourceNode : public Node {
 public:
  // Receiver-less sources (queueStream) hand over their batch here when the
  // interval closes (on the coordinator's thread unless blocking()). Receiver-based ones return false.
  virtual bool poll(int64_t t, Dataset& out) { (void)t; (void)out; return false; }
  // True when poll may block (a network server, files on disk): the runtime
  // then calls poll, position and committed on a thread of its own, in
  // order, so the coordinator never waits for it.
  virtual bool blocking() const { return false; }
  // Receiver-based sources: how to make the receiver the runtime runs in
  // its own actor (dstream/core/receiver.hpp); nullptr for polled ones.
  virtual const ReceiverFactory* receiver() const { return nullptr; }
  bool has_receiver() const { return receiver() != nullptr; }

  // Replayable sources report where the next batch starts reading, and can
  // be moved back there after a restart. Empty: not replayable.
  virtual std::string position() const { return {}; }
  virtual void seek(const std::string& position) { (void)position; }

  // Everything up to `position` is durably done (checkpointed, or, without
  // checkpoints, its batch completed): the source may release it upstream.
  virtual void committed(const std::string& position) { (void)position; }

  // Sources that can produce exactly the input between their position and
  // a given later position (a direct source over a log: Redis streams).
  // With checkpoints, the runtime then logs each batch's range before the
  // batch runs (recovery/batch_positions_log.hpp) and, after a restart,
  // forms the batches the restored checkpoint does not cover from exactly
  // those ranges: poll_until reads from position() up to and including
  // `end_position` (waiting while the upstream is unreachable, never
  // returning other data: it throws SourceWaiting, and is called again)
  // and returns true; false: not supported, the batch is polled as usual.
  virtual bool exact_replay() const { return false; }
  virtual bool poll_until(int64_t t, const std::string& end_position, Dataset& out) {
    (void)t; (void)end_position; (void)out;
    return false;
  }
};

// The output operations of a job run in the sink actor, in batch order.
class OutputNode : public Node {
 public:
  bool is_output() const override { return true; }
  virtual void emit(int64_t t, const Dataset& parts) = 0;
};

struct Graph {
  std::vector<NodePtr> nodes;     // topological: parents before children
  std::vector<int> sources;       // node ids
  std::vector<int> outputs;       // node ids, in declaration order
  int64_t batch_interval_ms = 1000;
  int default_partitions = 2;

  NodePtr add(NodePtr n) {
    n->id = static_cast<int>(nodes.size());
    nodes.push_back(n);
    return n;
  }

  // Does node `n` run (its map phase) in the batch with index k (k = 0 is the
  // first batch)? Sources run every batch; other nodes when all parents
  // produce a dataset.
  bool runs_at(const Node& n, int64_t k) const {
    for (auto& e : n.edges)
      if (!produces_at(*e.parent, k)) return false;
    return true;
  }

  // Does node `n` produce a dataset in batch k? Batch k has time
  // zero + (k+1) * interval, so a node with slide s produces every s-th batch.
  bool produces_at(const Node& n, int64_t k) const {
    return runs_at(n, k) && (k + 1) % n.slide_batches == 0;
  }
};

// Describes the shape of a graph: operators, their wiring, partitioning
// and windows. A checkpoint only restores into a graph with the same one.
inline std::string fingerprint(const Graph& g) {
  std::string text = "interval=" + std::to_string(g.batch_interval_ms);
  for (const auto& n : g.nodes) {
    text += ";" + std::to_string(n->id) + ":" + n->name + "/" +
            std::to_string(n->slide_batches) + "/" + std::to_string(n->reduce_partitions()) +
            (n->stateful() ? "/s" : "") + "<";
    for (const auto& e : n->edges) text += std::to_string(e.parent->id) + ",";
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(fnv1a64(text)));
  return hex;
}

}  // namespace trib
