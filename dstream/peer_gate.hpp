// The coordinator's public port. CAF 0.17 accepts every connection on a
// published port, waits forever for a TLS handshake and allocates whatever
// size a plain frame header announces; it has no setting for any of these.
// So CAF listens on 127.0.0.1 only, and this gate owns the public address:
// one thread that accepts peers up to a cap (more are reset at once),
// closes a peer not admitted (PeerCheck) within the handshake timeout,
// drops a peer whose bytes fail PeerCheck, and relays the rest, byte for
// byte, to CAF's loopback port.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dstream/peer_check.hpp"

namespace trib {

struct PeerLimits {
  int max_peers = 64;                     // open peer connections at most
  int64_t handshake_timeout_ms = 3000;    // to be admitted (PeerCheck), else closed
  uint32_t max_frame_bytes = 64u << 20;   // plain CAF: a frame announcing more is dropped
};

// Empty if the limits are usable, else what is wrong (naming the flags).
std::string check_peer_limits(const PeerLimits& limits);

class PeerGate {
 public:
  // Listens on host:port (host empty: every interface; port 0: any free
  // port) and relays admitted peers to 127.0.0.1:upstream_port. Null with
  // `error` set if it cannot listen.
  static std::unique_ptr<PeerGate> start(const std::string& host, uint16_t port, uint16_t upstream_port,
                                         PeerProtocol protocol, const PeerLimits& limits, std::string& error);
  ~PeerGate();  // closes the port and every relayed connection

  // Closes the port; connections already relayed go on (a coordinator's
  // last words to its workers pass after it stopped accepting them).
  void stop_accepting();

  PeerGate(const PeerGate&) = delete;
  PeerGate& operator=(const PeerGate&) = delete;

  uint16_t port() const;

  struct Impl;

 private:
  explicit PeerGate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace trib
