#include "dstream/core/map_ahead.hpp"

#include <algorithm>
#include <functional>

namespace trib {

std::vector<bool> nodes_feeding_outputs(const Graph& graph) {
  std::vector<bool> needed(graph.nodes.size(), false);
  std::function<void(int)> mark = [&](int id) {
    if (needed[id]) return;
    needed[id] = true;
    for (auto& e : graph.nodes[id]->edges) mark(e.parent->id);
  };
  for (int id : graph.outputs) mark(id);
  return needed;
}

std::map<int, std::vector<int>> map_ahead_readers(const Graph& graph, const std::vector<bool>& needed) {
  std::map<int, std::vector<int>> ahead;
  for (int id : graph.sources) {
    if (!needed[id]) continue;
    std::vector<int> readers;
    bool shuffles_only = true;
    for (auto& n : graph.nodes) {
      if (!needed[n->id]) continue;
      bool reads = std::any_of(n->edges.begin(), n->edges.end(), [&](const Edge& e) { return e.parent->id == id; });
      if (!reads) continue;
      readers.push_back(n->id);
      if (n->edges.size() != 1 || n->reduce_partitions() == 0) shuffles_only = false;
    }
    if (shuffles_only && !readers.empty()) ahead[id] = std::move(readers);
  }
  return ahead;
}

bool map_ahead_pays(const Graph& graph, const std::vector<int>& readers) {
  double per_key = combine_records_per_key(graph, readers);
  return per_key == 0 || per_key >= static_cast<double>(kMinRecordsPerKey);
}

double combine_records_per_key(const Graph& graph, const std::vector<int>& readers) {
  double fewest = 0;
  for (int id : readers)
    for (const Edge& e : graph.nodes.at(id)->edges) {
      if (!e.combine) continue;
      uint64_t records = e.combine->records.load(std::memory_order_relaxed);
      uint64_t keys = e.combine->keys.load(std::memory_order_relaxed);
      if (records < kJudgeAfterRecords) continue;
      double per_key = static_cast<double>(records) / static_cast<double>(std::max<uint64_t>(keys, 1));
      if (fewest == 0 || per_key < fewest) fewest = per_key;
    }
  return fewest;
}

int resolve_map_ahead_slots(int slots, int64_t interval_ms, int partitions, bool backpressure) {
  if (backpressure) return 0;
  if (slots >= 0) return slots;
  return static_cast<int>(std::clamp<int64_t>(interval_ms / 10, partitions, int64_t{8} * partitions));
}

}  // namespace trib
