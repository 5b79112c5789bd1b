// A partition host: where one process runs its share of a job's tasks. The
// coordinator's process has one, and so does every worker node.
//
// It runs stateless tasks in fresh task actors (in parallel) and holds the
// state partitions the coordinator placed on its process: one partition
// executor per (stateful node, partition), one user actor per (actor
// operator, partition). Task results go straight to the coordinator. State
// snapshots are written by the host itself, to the checkpoint directory
// every node shares, so partition state never travels to the coordinator.
//
// Protocol (coordinator -> host):
//   TaskSpec                                  run it; its TaskResult goes to the coordinator.
//                                             Shuffle map tasks (keep_output) leave their
//                                             buckets here; reduce tasks naming `fetches`
//                                             get them from the hosts keeping them first
//   (release_atom, batch time)                drop the shuffle blocks of that batch
//   (restore_atom, node, partition, bytes)    create that partition here from snapshot bytes
//   (drop_atom, node, partition)              the partition moved elsewhere: drop it
//   (snapshot_atom, path) -> HostSnapshot     write the state partitions held here to path
//   (ping_atom) -> ping_atom                  the coordinator's heartbeat
//   (stop_atom)                               the job ended (calls on_stop(""), then quits)
//   (evicted_atom, why)                       the coordinator gave up on this host (it hung):
//                                             its work went elsewhere (calls on_stop(why), quits)
// Protocol (host -> host):
//   (fetch_atom, batch, node, edge, map task, bucket) -> Partition   one kept bucket
// Messages from the coordinator are handled in the order sent, so a
// restore followed by replayed tasks applies in that order.
//
// Dynamically typed (caf::actor), unlike the in-process sink, receivers and
// pollers: a worker's host reaches the coordinator inside its join message
// and other hosts inside FetchRefs, and in CAF 0.17 a typed handle in a
// message is one more type every node must register and match by name; a
// mismatch is silent until the message is dropped. The inspectors of
// actors/messages.hpp check what arrives instead.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "dstream/core/graph.hpp"

namespace trib {

caf::actor spawn_partition_host(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                                caf::actor coordinator,
                                std::function<void(std::string evicted_because)> on_stop = nullptr);

}  // namespace trib
