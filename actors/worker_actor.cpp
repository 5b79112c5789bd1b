#include "actors/worker_actor.hpp"

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "actors/task_actor.hpp"

namespace trib {
namespace {

caf::behavior worker_actor(caf::event_based_actor* self, std::shared_ptr<const Graph> graph,
                           caf::actor coordinator,
                           std::function<void(std::string)> on_exit) {
  self->monitor(coordinator);
  self->set_down_handler([=](caf::down_msg& msg) {
    if (msg.source != coordinator.address()) return;
    spdlog::info("the coordinator is gone ({}); worker stops",
                 self->system().render(msg.reason));
    on_exit("");
    self->quit();
  });
  self->request(coordinator, std::chrono::seconds(30), join_atom::value,
                caf::actor_cast<caf::actor>(self), fingerprint(*graph))
      .then([](joined_atom) { spdlog::info("joined the coordinator"); },
            [=](caf::error& err) {
              std::string why = self->system().render(err);
              spdlog::error("the coordinator refused this worker: {}", why);
              on_exit(why);
              self->quit();
            });
  return {
      // Stateless tasks only; the result goes back to the coordinator.
      [=](TaskSpec& spec) { return run_task(*graph, spec, nullptr); },
  };
}

}  // namespace

caf::actor spawn_worker(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                        caf::actor coordinator, std::function<void(std::string)> on_exit) {
  return sys.spawn(worker_actor, std::move(graph), std::move(coordinator), std::move(on_exit));
}

}  // namespace trib
