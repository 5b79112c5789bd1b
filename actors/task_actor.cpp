#include "actors/task_actor.hpp"

#include <spdlog/spdlog.h>

#include "recovery/fault_injection.hpp"

namespace trib {

TaskResult result_for(const TaskSpec& spec) {
  TaskResult result;
  result.id = spec.id;
  result.attempt = spec.attempt;
  result.kept = spec.keep_output;
  return result;
}

TaskResult run_task(const Graph& graph, TaskSpec& spec, PartitionState* state) {
  TaskResult result = result_for(spec);
  delay_point("task");
  const char* phase = spec.id.phase == Phase::map ? "map-task" : "reduce-task";
  delay_point(phase);
  crash_point(phase);
  try {
    Node& node = *graph.nodes.at(static_cast<std::size_t>(spec.id.node));
    TaskContext ctx{spec.id.batch_time, spec.id.index, spec.num_partitions, spec.end_of_input};
    // Outputs that may hold views into their inputs (Text) pin them, through
    // one shared handle to the inputs.
    if (spec.id.phase == Phase::map) {
      const Partition& input = spec.inputs.at(0).at(0);
      result.outputs = node.edges.at(spec.id.edge).fn(input, ctx);
      Pin inputs;
      for (auto& out : result.outputs) {
        if (!out.holds_views()) continue;
        if (!inputs) inputs = input.keep_alive();
        out.pin(inputs);
      }
    } else {
      auto inputs = std::make_shared<const std::vector<std::vector<Partition>>>(spec.inputs);
      Partition out = node.reduce(ctx, std::move(spec.inputs), state);
      if (out.holds_views()) out.pin(std::move(inputs));
      result.outputs.push_back(std::move(out));
    }
  } catch (const std::exception& e) {
    result.error = e.what();
  } catch (...) {
    result.error = "unknown exception";
  }
  return result;
}

namespace {

void task_actor(caf::event_based_actor* self, std::shared_ptr<const Graph> graph,
                TaskSpec spec, caf::actor coordinator) {
  // The work happens in the actor's body, on a scheduler thread; returning
  // no behavior ends the actor.
  self->send(coordinator, run_task(*graph, spec, nullptr));
}

struct ExecutorState {
  std::unique_ptr<PartitionState> state;
};

caf::behavior partition_executor(caf::stateful_actor<ExecutorState>* self,
                                 std::shared_ptr<const Graph> graph, int node,
                                 int partition, caf::actor coordinator) {
  self->state.state = graph->nodes.at(static_cast<std::size_t>(node))->make_state(partition);
  return {
      [=](TaskSpec& spec) {
        self->send(coordinator, run_task(*graph, spec, self->state.state.get()));
      },
      // Checkpoints: the state after the last batch this executor ran.
      [=](snapshot_atom) { return self->state.state->encode(); },
      [=](restore_atom, const std::string& bytes) { self->state.state->decode(bytes); },
  };
}

}  // namespace

void spawn_task(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                TaskSpec spec, caf::actor coordinator) {
  sys.spawn(task_actor, std::move(graph), std::move(spec), std::move(coordinator));
}

caf::actor spawn_partition_executor(caf::actor_system& sys,
                                    std::shared_ptr<const Graph> graph, int node,
                                    int partition, caf::actor coordinator) {
  return sys.spawn(partition_executor, std::move(graph), node, partition,
                   std::move(coordinator));
}

}  // namespace trib
