// How the nodes of a cluster reach each other: the bind address of the
// coordinator, mutual TLS through CAF's OpenSSL module, and the checks that
// refuse an unsafe or broken set-up before anything starts.
//
// With TLS on, every connection (coordinator <-> worker) is a TLS session in
// which both sides present a certificate signed by the cluster's CA; a peer
// without one is cut off during the handshake, before CAF reads a byte of
// its protocol. Without TLS, anyone who can reach the port is a peer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "dstream/cluster_options.hpp"
#include "dstream/peer_gate.hpp"

namespace trib {

// Loads CAF's middleman (and with TLS its OpenSSL manager) into `cfg` and
// sets the peer limits. Call before the actor system is made.
void configure_transport(caf::actor_system_config& cfg, const TransportOptions& options);

// Does nothing; defined next to the OpenSSL wrappers that keep CAF's TLS
// sessions from failing each other (dstream/openssl_error_queue.cpp).
void openssl_error_queue_is_cleared();

// The coordinator as peers reach it: published by CAF on 127.0.0.1 only,
// behind a PeerGate on the public address.
class PublishedCoordinator {
 public:
  PublishedCoordinator(caf::actor_system& sys, caf::actor coordinator, uint16_t caf_port,
                       const TransportOptions& options);
  // Closes both ports and lets go of the coordinator (CAF's registry holds
  // it while published); the connections go on. Call while `sys` lives.
  void unpublish();
  // Closes the connections: destroy it after the actor system, so that
  // CAF's last messages to the workers pass.
  ~PublishedCoordinator() = default;
  PublishedCoordinator(const PublishedCoordinator&) = delete;
  PublishedCoordinator& operator=(const PublishedCoordinator&) = delete;

  uint16_t port() const { return gate_ ? gate_->port() : 0; }  // the public one

 private:
  friend caf::expected<std::unique_ptr<PublishedCoordinator>> publish_coordinator(
      caf::actor_system&, const caf::actor&, const std::string&, uint16_t, const TransportOptions&);
  caf::actor_system& sys_;
  caf::actor coordinator_;  // null once unpublished
  uint16_t caf_port_;
  bool tls_;
  std::unique_ptr<PeerGate> gate_;
};

// Publishes `coordinator` for peers on host:port (port 0: any free port).
caf::expected<std::unique_ptr<PublishedCoordinator>> publish_coordinator(
    caf::actor_system& sys, const caf::actor& coordinator, const std::string& host, uint16_t port,
    const TransportOptions& options);

// A handle on the coordinator published at host:port.
caf::expected<caf::actor> connect_to_coordinator(caf::actor_system& sys, const std::string& host,
                                                 uint16_t port, const TransportOptions& options);

}  // namespace trib
