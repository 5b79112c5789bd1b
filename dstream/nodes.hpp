// The node kinds the DStream operations are built from. Most operations are
// a ShuffleNode or an OutputNode filled in with small functions; only windows
// and state need node classes of their own.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "dstream/core/graph.hpp"
#include "dstream/core/hashing.hpp"
#include "dstream/core/receiver.hpp"

namespace trib {

// A shuffle: the edges write `partitions` buckets, the reduce function merges
// bucket r of every map task into output partition r.
class ShuffleNode : public Node {
 public:
  using ReduceFn = std::function<Partition(
      const TaskContext&, std::vector<std::vector<Partition>>)>;

  ShuffleNode(std::string op, int partitions, ReduceFn fn)
      : partitions_(partitions), reduce_fn_(std::move(fn)) {
    name = std::move(op);
  }

  int reduce_partitions() const override { return partitions_; }

  Partition reduce(const TaskContext& ctx,
                   std::vector<std::vector<Partition>> buckets,
                   PartitionState*) override {
    return reduce_fn_(ctx, std::move(buckets));
  }

 private:
  int partitions_;
  ReduceFn reduce_fn_;
};

// An output operation: emit_fn runs in the sink actor once per batch, with
// the batch's partitions in partition order.
class FunctionOutputNode : public OutputNode {
 public:
  using EmitFn = std::function<void(int64_t, const Dataset&)>;

  FunctionOutputNode(std::string op, EmitFn fn) : emit_fn_(std::move(fn)) {
    name = std::move(op);
  }

  void emit(int64_t t, const Dataset& parts) override { emit_fn_(t, parts); }

 private:
  EmitFn emit_fn_;
};

// A source whose batches are pushed by the coordinator's poll(), with no
// receiver actor: queueStream.
class PolledSourceNode : public SourceNode {
 public:
  using PollFn = std::function<Dataset(int64_t)>;

  PolledSourceNode(std::string op, PollFn fn) : poll_fn_(std::move(fn)) {
    name = std::move(op);
  }

  bool poll(int64_t t, Dataset& out) override {
    out = poll_fn_(t);
    return true;
  }

 private:
  PollFn poll_fn_;
};

// A source fed by a receiver actor; the coordinator spawns one per stream.
class ReceiverSourceNode : public SourceNode {
 public:
  ReceiverSourceNode(std::string op, ReceiverFactory factory)
      : factory(std::move(factory)) {
    name = std::move(op);
  }

  const ReceiverFactory* receiver() const override { return &factory; }

  ReceiverFactory factory;
};

}  // namespace trib
