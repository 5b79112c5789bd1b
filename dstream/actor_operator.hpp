// Custom actor operators: plug your own CAF actor into a pipeline as a
// per-partition operator.
//
// The engine spawns one operator actor per partition (0..n-1) when the job
// starts using it and keeps it for the whole job, so the actor may keep
// state across batches. Records reach partition r by key hash (for
// DStream<pair<K, V>>) or by input partition (otherwise), so an actor sees a
// stable share of the stream. Each batch, the engine sends partition r's
// records to actor r and waits for its reply:
//
//   (trib::process_atom, int64_t batch_time_ms, std::vector<In> records)
//       -> std::vector<Out>
//
// Batches reach an actor one at a time, in batch order. An actor that keeps
// state should also answer snapshot requests (used by checkpoints):
//
//   (trib::snapshot_atom) -> std::string        its state as bytes (Cereal)
//   (trib::restore_atom, std::string bytes)      replace its state
//
// Use it as
//   auto out = stream.actorOperator<Out>(
//       [](caf::actor_system& sys, int partition) { return sys.spawn(my_actor, partition); });
// with this header included. See apps/dedup_operator.cpp for a full example.
#pragma once

#include <functional>
#include <memory>

#include <caf/all.hpp>

#include "dstream/core/actor_operator_node.hpp"
#include "dstream/core/atoms.hpp"
#include "dstream/dstream.hpp"

namespace trib {

template <class In, class Out>
class TypedActorOperatorNode : public ActorOperatorNode {
 public:
  using Spawn = std::function<caf::actor(caf::actor_system&, int)>;

  TypedActorOperatorNode(int partitions, Spawn spawn)
      : partitions_(partitions), spawn_(std::move(spawn)) {
    name = "actorOperator";
    ordered = true;  // one batch at a time, in order, per actor
  }

  int reduce_partitions() const override { return partitions_; }

  caf::actor spawn_operator(caf::actor_system& sys, int partition) const override {
    return spawn_(sys, partition);
  }

  void dispatch(caf::event_based_actor* self, const caf::actor& op, int64_t t,
                std::vector<Partition> buckets, Done done) const override {
    std::vector<In> records;
    for (const auto& b : buckets)
      records.insert(records.end(), b.rows<In>().begin(), b.rows<In>().end());
    self->request(op, caf::infinite, process_atom::value, t, std::move(records))
        .then([done](std::vector<Out>& out) { done(Partition::of(std::move(out)), ""); },
              [done, self](caf::error& err) { done(Partition{}, self->system().render(err)); });
  }

 private:
  int partitions_;
  Spawn spawn_;
};

template <class T>
template <class Out, class SpawnFn>
DStream<Out> DStream<T>::actorOperator(SpawnFn spawn, int partitions) const {
  int n = job_->partitions(partitions);
  auto node = std::make_shared<TypedActorOperatorNode<T, Out>>(
      n, typename TypedActorOperatorNode<T, Out>::Spawn(std::move(spawn)));
  if constexpr (pair_traits<T>::value) {
    detail::add_edge(*this, *node, detail::hash_partition_edge(*this, n));
  } else {
    // Input partition i goes to operator i % n, keeping record order.
    auto pipe = pipe_;
    detail::add_edge(*this, *node, [pipe, n](const Partition& in, const TaskContext& ctx) {
      std::vector<std::vector<T>> out(n);
      for_each_record<T>(pipe, in, ctx, [&](const T& x) { out[ctx.partition % n].push_back(x); });
      std::vector<Partition> parts;
      for (auto& rows : out) parts.push_back(Partition::of(std::move(rows)));
      return parts;
    });
  }
  detail::inherit_slide(*this, *node);
  return detail::add_node<Out>(*this, node);
}

}  // namespace trib
