// A peer that is not a Tributary worker, for test_security: connects to a
// coordinator as CAF allows (plain, or TLS with the given files), and if it
// gets a handle, tells the coordinator to stop and asks to join with a
// made-up pipeline. Prints what happened on stdout:
//   "no handle: <why>" (exit 1), or "handle", then the join's answer (exit 0).
//   peer_probe HOST PORT [CA CERT KEY]
#include <cstdio>
#include <cstdlib>
#include <string>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "dstream/cluster_transport.hpp"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 6) {
    std::fprintf(stderr, "usage: peer_probe HOST PORT [CA CERT KEY]\n");
    return 2;
  }
  trib::TransportOptions transport;
  if (argc == 6) transport.tls = {argv[3], argv[4], argv[5]};
  caf::actor_system_config cfg;
  trib::register_message_types(cfg);
  trib::configure_transport(cfg, transport);
  caf::actor_system sys{cfg};
  auto coordinator =
      trib::connect_to_coordinator(sys, argv[1], static_cast<uint16_t>(std::atoi(argv[2])), transport);
  if (!coordinator) {
    std::printf("no handle: %s\n", sys.render(coordinator.error()).c_str());
    return 1;
  }
  std::printf("handle\n");
  std::fflush(stdout);
  caf::scoped_actor self{sys};
  self->send(*coordinator, trib::stop_atom::value, false);
  self->request(*coordinator, std::chrono::seconds(5), trib::join_atom::value,
                caf::actor_cast<caf::actor>(self), std::string("not-a-real-graph"))
      .receive([](trib::joined_atom) { std::printf("joined\n"); },
               [&](caf::error& err) { std::printf("refused: %s\n", sys.render(err).c_str()); });
  return 0;
}
