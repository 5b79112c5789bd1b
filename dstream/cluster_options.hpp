// What a cluster node is configured with, as plain data the API and the
// apps' flags can name without pulling CAF in: TLS files, the bind policy,
// peer limits, and the checks that refuse an unsafe or broken set-up before
// anything starts (defined with the transport, dstream/cluster_transport.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "dstream/peer_gate.hpp"

namespace trib {

// PEM files: the cluster's CA certificate, this node's certificate (signed
// by that CA) and its private key. All empty: no TLS.
struct TlsFiles {
  std::string ca, cert, key;
  bool enabled() const { return !ca.empty() || !cert.empty() || !key.empty(); }
};

struct TransportOptions {
  TlsFiles tls;
  // Allow listening on a non-loopback address without TLS.
  bool insecure = false;
  // Limits on peers (see README "Securing a cluster" for what they cover).
  int64_t connection_timeout_ms = 5000;  // a connected peer silent this long is dropped
  PeerLimits peers;                      // enforced by the coordinator's PeerGate
};

// True if `host` is a loopback address or a name that resolves only to such.
bool is_loopback_host(const std::string& host);

// Empty if the TLS files are all set or all empty and each can be read;
// else what is wrong, naming the flag and the path.
std::string check_tls_files(const TlsFiles& tls);

// Empty if the coordinator may listen on `host`: loopback, or TLS on, or
// `insecure`; else why not.
std::string check_listen_address(const std::string& host, const TransportOptions& options);

}  // namespace trib
