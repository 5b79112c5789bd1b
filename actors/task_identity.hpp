// Naming tasks in logs. A task's identity is TaskId (actors/messages.hpp);
// a state partition's is PartitionKey (recovery/state_snapshot.hpp).
#pragma once

#include <string>

#include "actors/messages.hpp"
#include "dstream/core/graph.hpp"

namespace trib {

// "task (batch 1000, reduceByKey node 3 reduce, partition 1)".
inline std::string describe(const Graph& graph, const TaskId& id) {
  return "task (batch " + std::to_string(id.batch_time) + ", " + graph.nodes[id.node]->name + " node " +
         std::to_string(id.node) + (id.phase == Phase::map ? " map" : " reduce") + ", partition " +
         std::to_string(id.index) + ")";
}

}  // namespace trib
