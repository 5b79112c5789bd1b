// The output sink actor: runs the job's output operations (print,
// foreachRDD, saveAsTextFiles, ...) strictly in batch-time order, whatever
// order the batches' computations finish in.
//
// Protocol (all from the coordinator):
//   ExpectBatch   a batch exists, with these active outputs (sent in time order)
//   OutputReady   one output's partitions for one batch
// Replies to the coordinator with BatchEmitted once a batch's outputs ran.
#pragma once

#include <memory>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "dstream/core/graph.hpp"

namespace trib {

// The protocol above as a typed handle (in-process: the coordinator spawns it).
using sink_actor = caf::typed_actor<caf::reacts_to<ExpectBatch>, caf::reacts_to<OutputReady>>;

sink_actor spawn_sink(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                      caf::actor coordinator);

}  // namespace trib
