#include "actors/partition_host.hpp"

#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "actors/actor_operator.hpp"
#include "actors/messages.hpp"
#include "actors/task_actor.hpp"
#include "recovery/state_snapshot.hpp"

namespace trib {
namespace {

using PartitionKey = std::pair<int32_t, int32_t>;  // (node, partition)

struct HostState {
  std::map<PartitionKey, caf::actor> partitions;
};

using host_actor = caf::stateful_actor<HostState>;

// Collects the snapshot replies of every partition, then writes the file.
struct SnapshotCollector {
  PartitionStates states;
  std::set<int32_t> stateless_nodes;
  std::size_t pending = 0;
};

TaskResult result_header(const TaskSpec& spec) {
  TaskResult res;
  res.batch_time = spec.batch_time;
  res.node = spec.node;
  res.phase = spec.phase;
  res.edge = spec.edge;
  res.index = spec.index;
  res.attempt = spec.attempt;
  return res;
}

caf::behavior partition_host(host_actor* self, std::shared_ptr<const Graph> graph,
                             caf::actor coordinator, std::function<void()> on_stop) {
  auto release_partitions = [self] {
    for (auto& [key, actor] : self->state.partitions)
      self->send_exit(actor, caf::exit_reason::user_shutdown);
    self->state.partitions.clear();
  };
  self->set_exit_handler([self, release_partitions](caf::exit_msg& msg) {
    release_partitions();
    self->quit(msg.reason);
  });
  // The actor holding partition p of node, created on first use.
  auto partition = [self, graph, coordinator](int32_t node, int32_t p) -> caf::actor {
    auto& slot = self->state.partitions[{node, p}];
    if (!slot) {
      const Node& n = *graph->nodes.at(static_cast<std::size_t>(node));
      if (auto* op = dynamic_cast<const ActorOperatorNode*>(&n))
        slot = op->spawn_operator(self->system(), p);
      else
        slot = spawn_partition_executor(self->system(), graph, node, p, coordinator);
    }
    return slot;
  };
  return {
      [=](TaskSpec& spec) {
        const Node& n = *graph->nodes.at(static_cast<std::size_t>(spec.node));
        bool reduce = spec.phase == static_cast<int32_t>(Phase::reduce);
        if (auto* op = dynamic_cast<const ActorOperatorNode*>(&n); op && reduce) {
          auto header = result_header(spec);
          op->dispatch(self, partition(spec.node, spec.index), spec.batch_time,
                       std::move(spec.inputs.at(0)),
                       [self, coordinator, header](Partition out, std::string error) {
                         TaskResult res = header;
                         res.outputs.push_back(std::move(out));
                         res.error = std::move(error);
                         self->send(coordinator, std::move(res));
                       });
        } else if (reduce && n.stateful()) {
          self->send(partition(spec.node, spec.index), std::move(spec));
        } else {
          spawn_task(self->system(), graph, std::move(spec), coordinator);
        }
      },
      [=](restore_atom, int32_t node, int32_t p, std::string& bytes) {
        self->send(partition(node, p), restore_atom::value, std::move(bytes));
      },
      [=](snapshot_atom, const std::string& path) -> caf::result<HostSnapshot> {
        if (self->state.partitions.empty()) return HostSnapshot{};
        auto rp = self->make_response_promise<HostSnapshot>();
        auto c = std::make_shared<SnapshotCollector>();
        c->pending = self->state.partitions.size();
        auto one_done = [rp, c, path]() mutable {
          if (--c->pending > 0) return;
          HostSnapshot reply;
          reply.stateless_nodes.assign(c->stateless_nodes.begin(), c->stateless_nodes.end());
          if (!c->states.empty()) {
            try {
              write_state_snapshot(path, c->states);
            } catch (const std::exception& e) {
              rp.deliver(caf::make_error(caf::sec::runtime_error, e.what()));
              return;
            }
          }
          for (auto& [key, bytes] : c->states) {
            reply.nodes.push_back(key.first);
            reply.partitions.push_back(key.second);
          }
          rp.deliver(std::move(reply));
        };
        for (auto& [key, actor] : self->state.partitions) {
          // Each partition answers after the tasks sent to it before.
          self->request(actor, caf::infinite, snapshot_atom::value)
              .then([c, key = key, one_done](std::string& bytes) mutable {
                      c->states[key] = std::move(bytes);
                      one_done();
                    },
                    // A custom operator without snapshot support.
                    [c, key = key, one_done](caf::error&) mutable {
                      c->stateless_nodes.insert(key.first);
                      one_done();
                    });
        }
        return rp;
      },
      [](ping_atom) { return ping_atom::value; },
      [=](stop_atom) {
        release_partitions();
        if (on_stop) on_stop();
        self->quit();
      },
  };
}

}  // namespace

caf::actor spawn_partition_host(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                                caf::actor coordinator, std::function<void()> on_stop) {
  return sys.spawn(partition_host, std::move(graph), std::move(coordinator), std::move(on_stop));
}

}  // namespace trib
