// How the coordinator's parts name tasks and state partitions: one key type
// each, so a task or a partition means the same thing in every table.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>

#include "actors/messages.hpp"
#include "dstream/graph.hpp"

namespace trib {

// A task's identity within a job: (batch time, node, phase, edge, index).
// Attempts of the same task share it; TaskSpec::attempt tells them apart.
struct TaskKey {
  int64_t batch_time = 0;
  int32_t node = -1;
  int32_t phase = 0;
  int32_t edge = 0;
  int32_t index = 0;

  static TaskKey of(const TaskSpec& s) { return {s.batch_time, s.node, s.phase, s.edge, s.index}; }
  static TaskKey of(const TaskResult& r) { return {r.batch_time, r.node, r.phase, r.edge, r.index}; }

  friend bool operator<(const TaskKey& a, const TaskKey& b) {
    return std::tie(a.batch_time, a.node, a.phase, a.edge, a.index) <
           std::tie(b.batch_time, b.node, b.phase, b.edge, b.index);
  }
  friend bool operator==(const TaskKey& a, const TaskKey& b) { return !(a < b) && !(b < a); }
};

// "task (batch 1000, reduceByKey node 3 reduce, partition 1)", for logs.
inline std::string describe(const Graph& graph, const TaskSpec& s) {
  return "task (batch " + std::to_string(s.batch_time) + ", " + graph.nodes[s.node]->name +
         " node " + std::to_string(s.node) +
         (s.phase == static_cast<int32_t>(Phase::map) ? " map" : " reduce") + ", partition " +
         std::to_string(s.index) + ")";
}

}  // namespace trib
