// Task actors compute one phase of one node over one partition.
//
// Stateless work runs in a fresh actor per task that sends its TaskResult to
// the coordinator and ends. Stateful nodes (updateStateByKey, mapWithState)
// run their reduce phase in a partition executor instead: one long-lived
// actor per (node, partition) that owns the partition's state, so the state
// never moves and each partition's batches apply to it in order.
#pragma once

#include <memory>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "dstream/core/graph.hpp"

namespace trib {

// A result naming the task (its identity and attempt), with no outputs yet.
TaskResult result_for(const TaskSpec& spec);

// Runs the task; a thrown exception becomes TaskResult::error.
TaskResult run_task(const Graph& graph, TaskSpec& spec, PartitionState* state);

void spawn_task(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                TaskSpec spec, caf::actor coordinator);

// Accepts TaskSpec messages for reduce partition `partition` of `node` and
// replies to `coordinator` with a TaskResult each. Also answers
// snapshot_atom -> std::string and (restore_atom, std::string) for checkpoints.
caf::actor spawn_partition_executor(caf::actor_system& sys,
                                    std::shared_ptr<const Graph> graph, int node,
                                    int partition, caf::actor coordinator);

}  // namespace trib
