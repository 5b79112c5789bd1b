#include "actors/worker_actor.hpp"

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "actors/partition_host.hpp"
#include "actors/worker_membership.hpp"

namespace trib {
namespace {

caf::behavior worker_actor(caf::event_based_actor* self, std::shared_ptr<const Graph> graph,
                           caf::actor coordinator,
                           std::function<void(WorkerEnd, std::string)> on_exit) {
  // The host runs this node's tasks and holds its state partitions; this
  // actor only joins and watches the coordinator.
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto host = spawn_partition_host(self->system(), graph, coordinator, [me](std::string evicted_because) {
    if (evicted_because.empty())
      caf::anon_send(me, stop_atom::value);
    else
      caf::anon_send(me, evicted_atom::value, std::move(evicted_because));
  });
  self->monitor(coordinator);
  self->set_down_handler([=](caf::down_msg& msg) {
    if (msg.source != coordinator.address()) return;
    bool clean = !msg.reason || msg.reason == caf::exit_reason::normal ||
                 msg.reason == caf::exit_reason::user_shutdown;
    self->send_exit(host, caf::exit_reason::user_shutdown);
    on_exit(clean ? WorkerEnd::coordinator_stopped : WorkerEnd::coordinator_lost,
            self->system().render(msg.reason));
    self->quit();
  });
  self->request(coordinator, std::chrono::seconds(30), join_atom::value, host, fingerprint(*graph))
      .then([](joined_atom) { spdlog::info("joined the coordinator"); },
            [=](caf::error& err) {
              std::string why = self->system().render(err);
              self->send_exit(host, caf::exit_reason::user_shutdown);
              // Rejoining from a process given up on (its eviction message
              // was lost with the connection): the same as being told so.
              bool given_up = why.find(kGivenUpRefusal) != std::string::npos;
              on_exit(given_up ? WorkerEnd::evicted : WorkerEnd::refused, why);
              self->quit();
            });
  return {
      // The host was told the job ended: do not wait for the coordinator to come back.
      [=](stop_atom) {
        on_exit(WorkerEnd::coordinator_stopped, "the job ended");
        self->quit();
      },
      [=](evicted_atom, const std::string& why) {
        self->demonitor(coordinator);
        on_exit(WorkerEnd::evicted, why);
        self->quit();
      },
  };
}

}  // namespace

caf::actor spawn_worker(caf::actor_system& sys, std::shared_ptr<const Graph> graph,
                        caf::actor coordinator,
                        std::function<void(WorkerEnd, std::string)> on_exit) {
  return sys.spawn(worker_actor, std::move(graph), std::move(coordinator), std::move(on_exit));
}

}  // namespace trib
