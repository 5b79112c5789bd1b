#include "actors/sink_actor.hpp"

#include <deque>
#include <map>

#include "actors/messages.hpp"
#include "recovery/fault_injection.hpp"

namespace trib {
namespace {

struct SinkState {
  std::deque<ExpectBatch> expected;                       // in batch order
  std::map<std::pair<int64_t, int32_t>, Dataset> ready;   // (time, node)
};

// Emits every batch at the head of the queue whose outputs are all ready.
void emit_ready(sink_actor::stateful_pointer<SinkState> self, const Graph& graph,
                const caf::actor& coordinator) {
  auto& st = self->state;
  while (!st.expected.empty()) {
    const ExpectBatch& head = st.expected.front();
    for (auto id : head.outputs)
      if (st.ready.count({head.batch_time, id}) == 0) return;
    BatchEmitted done{head.batch_time, {}};
    for (auto id : head.outputs) {
      auto key = std::make_pair(head.batch_time, id);
      auto& node = static_cast<OutputNode&>(*graph.nodes.at(static_cast<std::size_t>(id)));
      if (done.error.empty()) {
        try {
          node.emit(head.batch_time, st.ready[key]);
        } catch (const std::exception& e) {
          done.error = "output " + node.name + " failed: " + e.what();
        }
      }
      st.ready.erase(key);
    }
    crash_point("after-output");
    // A typed actor may send() only to typed ones in CAF 0.17; the
    // coordinator, reached by workers over the network, is dynamically typed.
    caf::anon_send(coordinator, std::move(done));
    st.expected.pop_front();
  }
}

sink_actor::behavior_type sink_behavior(sink_actor::stateful_pointer<SinkState> self,
                                        std::shared_ptr<const Graph> graph, caf::actor coordinator) {
  return {
      [=](ExpectBatch& e) {
        self->state.expected.push_back(std::move(e));
        emit_ready(self, *graph, coordinator);
      },
      [=](OutputReady& o) {
        self->state.ready[{o.batch_time, o.node}] = std::move(o.partitions);
        emit_ready(self, *graph, coordinator);
      },
  };
}

}  // namespace

sink_actor spawn_sink(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                      caf::actor coordinator) {
  // Detached: output callbacks may block (files, user code) without
  // holding a scheduler thread.
  return sys.spawn<caf::detached>(sink_behavior, std::move(graph), std::move(coordinator));
}

}  // namespace trib
