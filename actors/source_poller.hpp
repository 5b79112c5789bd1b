// The source poller: one per polled source whose reads may block (Redis, a
// directory's files). It runs on a thread of its own (a detached actor), so a
// slow server or a big file delays only that source's batches, never the
// coordinator's heartbeats, timers or stop.
//
// Protocol (requests are served in order, one at a time; every call to the
// source happens on the poller's thread):
//   (poll_atom, int64_t t, std::string end) -> ReceivedBlock (batch t's input and
//                                                          the position after it;
//                                                          `end` non-empty: a logged
//                                                          batch formed again, read
//                                                          exactly up to there,
//                                                          SourceNode::poll_until;
//                                                          while the source waits
//                                                          (SourceWaiting) it is
//                                                          tried again later and
//                                                          later polls queue)
//   (commit_atom, std::string position)                   (SourceNode::committed)
#pragma once

#include <memory>

#include <caf/all.hpp>

#include "dstream/core/graph.hpp"

namespace trib {

// Polls node `source_node` of `graph` (a SourceNode whose blocking() is true).
caf::actor spawn_source_poller(caf::actor_system& sys, std::shared_ptr<const Graph> graph, int source_node);

}  // namespace trib
