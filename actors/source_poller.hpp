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
//   (commit_atom, std::string position)   SourceNode::committed
//   (stop_atom)                           quit, after the messages before it
//                                         (an exit message would overtake the
//                                         last commit: CAF sends it urgent)
//   (tick_atom)                           internal: retry a waiting poll
#pragma once

#include <memory>
#include <string>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "dstream/core/graph.hpp"

namespace trib {

// The protocol above as a typed handle: CAF checks every request at compile
// time. In-process only (the coordinator spawns it), so no registration of
// the handle type is needed.
using source_poller_actor =
    caf::typed_actor<caf::replies_to<poll_atom, int64_t, std::string>::with<ReceivedBlock>,
                     caf::reacts_to<commit_atom, std::string>, caf::reacts_to<stop_atom>,
                     caf::reacts_to<tick_atom>>;

// Polls node `source_node` of `graph` (a SourceNode whose blocking() is true).
source_poller_actor spawn_source_poller(caf::actor_system& sys, std::shared_ptr<const Graph> graph, int source_node);

}  // namespace trib
