// The runtime's side of custom actor operators (dstream/actor_operator.hpp
// is the user's side): a node whose reduce partitions are user actors.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "dstream/core/graph.hpp"

namespace trib {

// A node whose reduce phase runs in user actors. The coordinator asks it to
// spawn the actors and to send each one its partition.
class ActorOperatorNode : public Node {
 public:
  Execution execution() const override { return Execution::actor_operator; }

  using Done = std::function<void(Partition output, std::string error)>;

  virtual caf::actor spawn_operator(caf::actor_system& sys, int partition) const = 0;

  // Sends `input` (bucket r of every map task, concatenated) to `op` on
  // behalf of `self` and calls done with the reply.
  virtual void dispatch(caf::event_based_actor* self, const caf::actor& op, int64_t t,
                        std::vector<Partition> buckets, Done done) const = 0;
};

}  // namespace trib
