#include "dstream/job_builder.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace trib {

NodePtr JobBuilder::add(NodePtr n) {
  if (started)
    throw std::logic_error(
        "cannot add operation '" + n->name +
        "' after the StreamingContext has started: declare every "
        "transformation and output before start()");
  return graph.add(std::move(n));
}

void JobBuilder::add_output(const std::shared_ptr<OutputNode>& node) {
  add(node);
  graph.outputs.push_back(node->id);
}

int JobBuilder::partitions(int requested) const {
  if (requested < 0) throw std::invalid_argument("partitions must be >= 0");
  return requested > 0 ? requested : graph.default_partitions;
}

namespace detail {
void require_same_slide(const char* op, const Node& a, const Node& b) {
  if (a.slide_batches != b.slide_batches)
    throw std::invalid_argument(std::string(op) + ": both streams must have the same slide duration");
}
}  // namespace detail

}  // namespace trib
