// A worker node's actor: it joins a coordinator in another process (CAF's
// middleman), says which pipeline it runs (the graph fingerprint), and
// offers the coordinator this process's partition host, which runs the tasks
// and holds the state partitions the coordinator places here.
//
// Protocol:
//   worker -> coordinator: (join_atom, host handle, fingerprint) -> joined_atom / error
//   coordinator -> host:   see actors/partition_host.hpp
// The worker ends when the coordinator is gone: stopped (a clean exit) or
// lost (its process died or the network failed; the caller may rejoin), or
// when the coordinator gave up on it (evicted: it hung, and its work went
// elsewhere).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "dstream/core/graph.hpp"

namespace trib {

// How a worker's time with a coordinator ended.
enum class WorkerEnd { coordinator_stopped, coordinator_lost, evicted, refused };

caf::actor spawn_worker(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                        caf::actor coordinator,
                        std::function<void(WorkerEnd, std::string detail)> on_exit);

}  // namespace trib
