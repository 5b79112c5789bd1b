// Map-ahead (Drizzle's pre-scheduling, SOSP'17), the plan: which sources'
// input can be handed over in slots while their interval is still open, each
// slot mapped as it arrives, and in how many slots. The batch executor
// (actors/batch_executor.hpp) runs it; the streaming context sizes the
// receive buffers by it.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "dstream/core/graph.hpp"

namespace trib {

// Which nodes feed an output (only those run), by node id.
std::vector<bool> nodes_feeding_outputs(const Graph& graph);

// The sources whose input can be mapped ahead, each with the nodes that
// read it: every needed node reading the source reads only it and ends in
// a shuffle, so none of them emits, keeps or sees a partition past its map
// task, and cutting the input by time instead of by count changes nothing
// they compute.
std::map<int, std::vector<int>> map_ahead_readers(const Graph& graph, const std::vector<bool>& needed);

// Does mapping ahead still pay for the nodes `readers` of one source? Each
// slot's map-side table is drained on its own, so the reduce side merges the
// keys of every slot again: cheap where combining shrinks a slot to a few
// keys (a word count's vocabulary), as costly as the map itself where most
// records bring a key of their own (millions of distinct words). Where it
// is cheap, mapping a slot while its bytes are still in cache makes a full-
// speed word count 1.35x faster (10,000 words: 14.6 against 10.5 M lines/s).
// False once a reader's combine, judged over at least kJudgeAfterRecords
// records, kept more than one key in kMinRecordsPerKey records. Full-speed
// socket word counts, slots on against off (6-10 alternating pairs each):
// 50,000 words (24-27 records a key) 1.04-1.06x faster with slots; 70,000
// (20) and 100,000 (13) 1.14x faster without. Reads CombineStats, which
// counts the big tasks run in this process only: with every map task on
// other processes, or a stream too slow to fill big slots, it stays true.
constexpr uint64_t kJudgeAfterRecords = uint64_t{1} << 20;
constexpr uint64_t kMinRecordsPerKey = 22;
bool map_ahead_pays(const Graph& graph, const std::vector<int>& readers);

// The fewest records a key any of `readers`' combines kept, once it was
// judged (above); 0 while none was.
double combine_records_per_key(const Graph& graph, const std::vector<int>& readers);

// StreamingOptions::map_ahead_slots with -1 resolved: slots of about 10 ms
// (a full-speed socket fills about 11 MB in that), at least `partitions` so
// short intervals still overlap, and at most 8 per partition so long ones
// do not spread into tiny map tasks. 0 with backpressure, whose rate
// estimate reads whole batches' processing times.
int resolve_map_ahead_slots(int slots, int64_t interval_ms, int partitions, bool backpressure);

}  // namespace trib
