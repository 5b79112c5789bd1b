// JobBuilder: the job graph a StreamingContext's DStreams declare into.
// Every DStream of one context shares it; start() freezes it.
#pragma once

#include <memory>
#include <ostream>

#include "dstream/core/graph.hpp"

namespace trib {

// Settings the graph-building code needs from the context.
struct GraphSettings {
  std::ostream* print_out = nullptr;  // print() target; nullptr: stdout
};

struct JobBuilder {
  Graph graph;
  GraphSettings settings;
  bool started = false;

  // Adds a node; throws once the context has started.
  NodePtr add(NodePtr n);
  // Adds an output node and records it among the graph's outputs.
  void add_output(const std::shared_ptr<OutputNode>& node);
  // An operation's partition count: `requested`, or the context's default for 0.
  int partitions(int requested) const;
};

namespace detail {
// Throws unless both nodes produce every same number of batches (two-stream
// operations, `op` names the operation).
void require_same_slide(const char* op, const Node& a, const Node& b);
}  // namespace detail

}  // namespace trib
