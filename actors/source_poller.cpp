#include "actors/source_poller.hpp"

#include <deque>
#include <string>

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "dstream/core/atoms.hpp"

namespace trib {
namespace {

// Requests wait in a queue of their own, served in order: a batch formed
// again from its logged range whose source is not readable yet
// (SourceWaiting) is tried again after a delay, later batches wait behind
// it, and the actor stays responsive meanwhile (an exit is obeyed at once).
struct PollerState {
  struct Request {
    int64_t t;
    std::string end;
    caf::typed_response_promise<ReceivedBlock> promise;
  };
  std::deque<Request> queue;
  bool retry_scheduled = false;
};

void serve(source_poller_actor::pointer self, PollerState& st, SourceNode& src, int id) {
  while (!st.queue.empty() && !st.retry_scheduled) {
    auto& req = st.queue.front();
    ReceivedBlock block;
    block.source_node = id;
    try {
      if (req.end.empty() || !src.poll_until(req.t, req.end, block.partitions)) src.poll(req.t, block.partitions);
    } catch (const SourceWaiting& w) {
      st.retry_scheduled = true;
      self->delayed_send(self, w.retry_after, tick_atom::value);
      return;
    } catch (const std::exception& e) {
      req.promise.deliver(caf::make_error(caf::sec::runtime_error, std::string(e.what())));
      st.queue.pop_front();
      continue;
    }
    for (auto& p : block.partitions) block.records += static_cast<int64_t>(p.size());
    block.position = src.position();
    req.promise.deliver(std::move(block));
    st.queue.pop_front();
  }
}

source_poller_actor::behavior_type source_poller(source_poller_actor::pointer self,
                                                  std::shared_ptr<const Graph> graph, int id) {
  auto& src = static_cast<SourceNode&>(*graph->nodes.at(id));
  auto st = std::make_shared<PollerState>();
  return {
      [self, graph, id, &src, st](poll_atom, int64_t t, const std::string& end) {
        auto rp = self->make_response_promise<ReceivedBlock>();
        st->queue.push_back({t, end, rp});
        serve(self, *st, src, id);
        return rp;
      },
      [self](stop_atom) { self->quit(); },
      [self, id, &src, st](tick_atom) {
        st->retry_scheduled = false;
        serve(self, *st, src, id);
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

source_poller_actor spawn_source_poller(caf::actor_system& sys, std::shared_ptr<const Graph> graph, int source_node) {
  return sys.spawn<caf::detached>(source_poller, std::move(graph), source_node);
}

}  // namespace trib
