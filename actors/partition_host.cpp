#include "actors/partition_host.hpp"

#include <climits>
#include <map>
#include <set>
#include <tuple>

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "actors/task_actor.hpp"
#include "dstream/core/actor_operator_node.hpp"
#include "recovery/fault_injection.hpp"
#include "recovery/state_snapshot.hpp"

namespace trib {
namespace {

using BlockKey = std::tuple<int64_t, int32_t, int32_t, int32_t>;  // (batch, node, edge, map task)

struct HostState {
  std::map<PartitionKey, caf::actor> partitions;
  // Buckets of shuffle map tasks run here, until their batch is released.
  std::map<BlockKey, std::vector<Partition>> blocks;
};

// A stateless task over no records runs right here rather than in an actor
// of its own: an idle 10 ms pipeline spawned 16 actors a batch, and their
// wake-ups were most of its CPU. Same function, same scheduler threads; only
// with no fault rules armed, as a delayed task would stall this host.
bool runs_inline(const TaskSpec& spec) {
  if (!spec.fetches.empty() || faults_armed()) return false;
  for (const auto& group : spec.inputs)
    for (const auto& p : group)
      if (!p.known_empty()) return false;
  return true;
}

// A reduce task waiting for the shuffle blocks it fetches from other hosts.
struct Gather {
  TaskSpec spec;
  std::size_t pending = 0;
  std::vector<FetchRef> lost;
  std::string why;
};

using host_actor = caf::stateful_actor<HostState>;

// Collects the snapshot replies of every partition, then writes the file.
struct SnapshotCollector {
  PartitionStates states;
  std::set<int32_t> stateless_nodes;
  std::size_t pending = 0;
};

caf::behavior partition_host(host_actor* self, std::shared_ptr<const Graph> graph,
                             caf::actor coordinator, std::function<void(std::string)> on_stop) {
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
      if (n.execution() == Node::Execution::actor_operator)
        slot = static_cast<const ActorOperatorNode&>(n).spawn_operator(self->system(), p);
      else
        slot = spawn_partition_executor(self->system(), graph, node, p, coordinator);
    }
    return slot;
  };
  // Runs a task whose inputs are all here.
  auto run = [=](TaskSpec& spec) {
        const Node& n = *graph->nodes.at(static_cast<std::size_t>(spec.id.node));
        bool reduce = spec.id.phase == Phase::reduce;
        if (reduce && n.execution() == Node::Execution::actor_operator) {
          auto header = result_for(spec);
          static_cast<const ActorOperatorNode&>(n).dispatch(self, partition(spec.id.node, spec.id.index), spec.id.batch_time,
                       std::move(spec.inputs.at(0)),
                       [self, coordinator, header](Partition out, std::string error) {
                         TaskResult res = header;
                         res.outputs.push_back(std::move(out));
                         res.error = std::move(error);
                         self->send(coordinator, std::move(res));
                       });
        } else if (reduce && n.stateful()) {
          self->send(partition(spec.id.node, spec.id.index), std::move(spec));
        } else {
          // A kept map output comes back here first (see TaskResult below).
          caf::actor reply_to = spec.keep_output ? caf::actor_cast<caf::actor>(self) : coordinator;
          if (runs_inline(spec))
            self->send(reply_to, run_task(*graph, spec, nullptr));
          else
            spawn_task(self->system(), graph, std::move(spec), reply_to);
        }
  };
  // Fetches the blocks a reduce task names from the hosts keeping them,
  // then runs it; blocks that cannot be had are reported to the coordinator.
  auto gather = [=](TaskSpec& spec) {
    auto g = std::make_shared<Gather>();
    g->spec = std::move(spec);
    g->pending = 1;  // until every request is out
    auto one_done = [=] {
      if (--g->pending > 0) return;
      if (g->lost.empty()) {
        g->spec.fetches.clear();
        run(g->spec);
        return;
      }
      TaskResult res = result_for(g->spec);
      res.error = "cannot fetch " + std::to_string(g->lost.size()) + " shuffle blocks: " + g->why;
      for (auto& ref : g->lost) {
        res.lost_edges.push_back(ref.edge);
        res.lost_maps.push_back(ref.map_index);
      }
      self->send(coordinator, std::move(res));
    };
    const TaskSpec& s = g->spec;
    for (const FetchRef& ref : s.fetches) {
      if (ref.host.address() == self->address()) {
        auto block = self->state.blocks.find(BlockKey{s.id.batch_time, s.id.node, ref.edge, ref.map_index});
        if (block == self->state.blocks.end()) {
          g->lost.push_back(ref);
          g->why = "a block kept here is gone";
        } else {
          g->spec.inputs.at(ref.edge).at(ref.map_index) = block->second.at(s.id.index);
        }
        continue;
      }
      ++g->pending;
      self->request(ref.host, std::chrono::seconds(30), fetch_atom::value, s.id.batch_time, s.id.node,
                    ref.edge, ref.map_index, s.id.index)
          .then([g, ref, one_done](Partition& bucket) {
                  g->spec.inputs.at(ref.edge).at(ref.map_index) = std::move(bucket);
                  one_done();
                },
                [self, g, ref, one_done](caf::error& err) {
                  g->lost.push_back(ref);
                  g->why = self->system().render(err);
                  one_done();
                });
    }
    one_done();
  };
  return {
      [=](TaskSpec& spec) {
        if (spec.fetches.empty())
          run(spec);
        else
          gather(spec);
      },
      // A map task run here for a shuffle: keep its buckets, tell the
      // coordinator they exist.
      [=](TaskResult& res) {
        auto buckets = static_cast<std::size_t>(graph->nodes.at(static_cast<std::size_t>(res.id.node))->reduce_partitions());
        if (res.kept && res.error.empty() && res.outputs.size() != buckets)
          res.error = "operator wrote " + std::to_string(res.outputs.size()) + " buckets, expected " +
                      std::to_string(buckets);
        if (res.kept && res.error.empty())
          self->state.blocks[BlockKey{res.id.batch_time, res.id.node, res.id.edge, res.id.index}] = std::move(res.outputs);
        res.outputs.clear();
        self->send(coordinator, std::move(res));
      },
      [=](fetch_atom, int64_t t, int32_t node, int32_t edge, int32_t map_index,
          int32_t bucket) -> caf::result<Partition> {
        auto block = self->state.blocks.find(BlockKey{t, node, edge, map_index});
        if (block == self->state.blocks.end() || bucket < 0 ||
            static_cast<std::size_t>(bucket) >= block->second.size())
          return caf::make_error(caf::sec::runtime_error,
                                 "no shuffle block (batch " + std::to_string(t) + ", node " + std::to_string(node) +
                                     ", map task " + std::to_string(map_index) + ") here");
        return block->second[static_cast<std::size_t>(bucket)];
      },
      [=](release_atom, int64_t t) {
        auto& blocks = self->state.blocks;
        blocks.erase(blocks.lower_bound(BlockKey{t, INT32_MIN, INT32_MIN, INT32_MIN}),
                     blocks.lower_bound(BlockKey{t + 1, INT32_MIN, INT32_MIN, INT32_MIN}));
      },
      [=](restore_atom, int32_t node, int32_t p, std::string& bytes) {
        self->send(partition(node, p), restore_atom::value, std::move(bytes));
      },
      // The partition moved to another host.
      [=](drop_atom, int32_t node, int32_t p) {
        auto it = self->state.partitions.find({node, p});
        if (it == self->state.partitions.end()) return;
        self->send_exit(it->second, caf::exit_reason::user_shutdown);
        self->state.partitions.erase(it);
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
            reply.bytes.push_back(static_cast<int64_t>(bytes.size()));
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
        if (on_stop) on_stop("");
        self->quit();
      },
      [=](evicted_atom, const std::string& why) {
        release_partitions();
        if (on_stop) on_stop(why.empty() ? "no reason given" : why);
        self->quit();
      },
  };
}

}  // namespace

caf::actor spawn_partition_host(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                                caf::actor coordinator, std::function<void(std::string)> on_stop) {
  return sys.spawn(partition_host, std::move(graph), std::move(coordinator), std::move(on_stop));
}

}  // namespace trib
