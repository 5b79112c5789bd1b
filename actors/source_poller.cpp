#include "actors/source_poller.hpp"

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "dstream/core/atoms.hpp"

namespace trib {
namespace {

caf::behavior source_poller(caf::event_based_actor* self, std::shared_ptr<const Graph> graph, int id) {
  auto& src = static_cast<SourceNode&>(*graph->nodes.at(id));
  return {
      [graph, id, &src](poll_atom, int64_t t, const std::string& end) {
        ReceivedBlock block;
        block.source_node = id;
        if (end.empty() || !src.poll_until(t, end, block.partitions)) src.poll(t, block.partitions);
        for (auto& p : block.partitions) block.records += static_cast<int64_t>(p.size());
        block.position = src.position();
        return block;
      },
      [&src](commit_atom, const std::string& position) {
        try {
          src.committed(position);
        } catch (const std::exception& e) {
          spdlog::warn("source {} could not release input up to {}: {}", src.name, position, e.what());
        }
      },
  };
}

}  // namespace

caf::actor spawn_source_poller(caf::actor_system& sys, std::shared_ptr<const Graph> graph, int source_node) {
  return sys.spawn<caf::detached>(source_poller, std::move(graph), source_node);
}

}  // namespace trib
