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

#include "dstream/core/graph.hpp"

namespace trib {

caf::actor spawn_sink(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                      caf::actor coordinator);

}  // namespace trib
