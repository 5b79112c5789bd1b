// A worker node's actor: it joins a coordinator in another process (CAF's
// middleman), says which pipeline it runs (the graph fingerprint), and runs
// the tasks the coordinator sends it, replying with their results.
//
// Protocol:
//   worker -> coordinator: (join_atom, worker handle, fingerprint) -> joined_atom / error
//   coordinator -> worker: TaskSpec -> TaskResult
// The worker ends when the coordinator is gone.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "dstream/graph.hpp"

namespace trib {

caf::actor spawn_worker(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                        caf::actor coordinator, std::function<void(std::string error)> on_exit);

}  // namespace trib
