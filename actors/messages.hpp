// The messages Tributary's actors exchange, with CAF inspectors so each can
// cross a process boundary. Every type here is registered with the actor
// system by register_message_types(); partitions travel as Cereal bytes.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <caf/all.hpp>

#include "dstream/core/atoms.hpp"
#include "dstream/core/partition.hpp"

namespace trib {

// Atoms: dstream/core/atoms.hpp.

// Lines a receiver's reader thread hands to its receiver actor: a partition
// of Text that pins the block the lines point into (moved by pointer).
struct RecordChunk {
  Partition lines;
};

// A receiver's reply to flush: everything accepted since the last flush,
// cut into partitions of consecutive records.
struct ReceivedBlock {
  int source_node = -1;
  int64_t records = 0;
  std::vector<Partition> partitions;
  std::string position;  // write-ahead log position after this block; empty without a log
};

enum class Phase : int32_t { map = 0, reduce = 1 };

// A task's identity within a job: phase `phase` of node `node` for batch
// `batch_time` over partition `index` (of input edge `edge`, map tasks).
// Attempts of one task share it (TaskSpec::attempt tells them apart).
struct TaskId {
  int64_t batch_time = 0;
  int32_t node = -1;
  Phase phase = Phase::map;
  int32_t edge = 0;
  int32_t index = 0;

  friend bool operator<(const TaskId& a, const TaskId& b) {
    return std::tie(a.batch_time, a.node, a.phase, a.edge, a.index) <
           std::tie(b.batch_time, b.node, b.phase, b.edge, b.index);
  }
  friend bool operator==(const TaskId& a, const TaskId& b) {
    return std::tie(a.batch_time, a.node, a.phase, a.edge, a.index) ==
           std::tie(b.batch_time, b.node, b.phase, b.edge, b.index);
  }
};

// A shuffle block a reduce task fetches from the worker that ran the map
// task (worker to worker): bucket `index` of map task (edge, map_index).
struct FetchRef {
  int32_t edge = 0;
  int32_t map_index = 0;
  caf::actor host;  // the partition host keeping the map task's buckets
};

// One task: run phase `phase` of node `node` for batch `batch_time` over
// partition `index`. Map tasks get inputs = {{parent partition}}; reduce
// tasks get inputs[e] = bucket `index` of every map task of edge e, where
// a bucket kept on a worker is an empty placeholder named in `fetches`.
struct TaskSpec {
  TaskId id;
  int32_t num_partitions = 1;
  // Tasks of state partitions: which placement of the partition this is
  // for; results of an earlier placement (a worker given up on) are stale.
  int32_t attempt = 0;
  // Map tasks of a shuffle on a worker: keep the buckets there for the
  // reduce tasks to fetch, and report only that they exist.
  bool keep_output = false;
  bool end_of_input = false;  // TaskContext::end_of_input
  std::vector<std::vector<Partition>> inputs;
  std::vector<FetchRef> fetches;
};

struct TaskResult {
  TaskId id;
  int32_t attempt = 0;
  bool kept = false;  // the buckets stayed on the worker (keep_output)
  std::vector<Partition> outputs;
  std::string error;  // non-empty: the task failed with this message
  // A reduce task that could not fetch these map outputs (edge, map index):
  // their worker is gone, so the coordinator runs those map tasks again.
  std::vector<int32_t> lost_edges, lost_maps;
};

// A partition host's reply to (snapshot_atom, path): the state partitions it
// wrote to `path` (none: it wrote no file), and the custom operators among
// them that answer no snapshot (their state is not checkpointed).
struct HostSnapshot {
  std::vector<int32_t> nodes;       // nodes[i], partitions[i]: one partition
  std::vector<int32_t> partitions;
  std::vector<int64_t> bytes;       // bytes[i]: partition i's serialized state (the status page)
  std::vector<int32_t> stateless_nodes;
};

// Coordinator -> sink: batch `batch_time` exists and these outputs run in it.
struct ExpectBatch {
  int64_t batch_time = 0;
  std::vector<int32_t> outputs;
};

// Coordinator -> sink: the records of one output node for one batch.
struct OutputReady {
  int64_t batch_time = 0;
  int32_t node = -1;
  std::vector<Partition> partitions;
};

// Sink -> coordinator: every output of the batch ran (or one failed).
struct BatchEmitted {
  int64_t batch_time = 0;
  std::string error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Partition& x) {
  std::string bytes;
  if constexpr (std::is_base_of<caf::serializer, Inspector>::value) {
    bytes = x.encode();
    return f(caf::meta::type_name("partition"), bytes);
  } else if constexpr (Inspector::reads_state) {
    // to_string() and friends: do not encode records just to show them.
    bytes = "<records>";
    return f(caf::meta::type_name("partition"), bytes);
  } else {
    auto load = caf::meta::load_callback([&]() -> caf::error {
      x = Partition::from_bytes(std::move(bytes));
      return caf::none;
    });
    return f(caf::meta::type_name("partition"), bytes, load);
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RecordChunk& x) {
  return f(caf::meta::type_name("record_chunk"), x.lines);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ReceivedBlock& x) {
  return f(caf::meta::type_name("received_block"), x.source_node, x.records,
           x.partitions, x.position);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, FetchRef& x) {
  return f(caf::meta::type_name("fetch_ref"), x.edge, x.map_index, x.host);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TaskId& x) {
  // The phase travels as its number; anything else is refused on arrival.
  auto phase = static_cast<int32_t>(x.phase);
  auto check = caf::meta::load_callback([&]() -> caf::error {
    if (phase != 0 && phase != 1) return caf::make_error(caf::sec::invalid_argument, "task phase out of range");
    x.phase = static_cast<Phase>(phase);
    return caf::none;
  });
  return f(caf::meta::type_name("task_id"), x.batch_time, x.node, phase, x.edge, x.index, check);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TaskSpec& x) {
  return f(caf::meta::type_name("task_spec"), x.id, x.num_partitions, x.attempt, x.keep_output, x.end_of_input,
           x.inputs, x.fetches);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TaskResult& x) {
  return f(caf::meta::type_name("task_result"), x.id, x.attempt, x.kept, x.outputs, x.error,
           x.lost_edges, x.lost_maps);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, HostSnapshot& x) {
  return f(caf::meta::type_name("host_snapshot"), x.nodes, x.partitions, x.bytes, x.stateless_nodes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ExpectBatch& x) {
  return f(caf::meta::type_name("expect_batch"), x.batch_time, x.outputs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, OutputReady& x) {
  return f(caf::meta::type_name("output_ready"), x.batch_time, x.node,
           x.partitions);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, BatchEmitted& x) {
  return f(caf::meta::type_name("batch_emitted"), x.batch_time, x.error);
}

// Registers every message type above; call before creating the actor system.
void register_message_types(caf::actor_system_config& cfg);

}  // namespace trib
