#include "dstream/cluster_transport.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

namespace trib {

namespace {

bool is_loopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

std::string openssl_error() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

// "" if `path` can be opened for reading, else why not.
std::string unreadable(const std::string& flag, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return flag + " " + path + ": " + std::strerror(errno);
  std::fclose(f);
  return {};
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  if (host.empty()) return false;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || !found) return false;
  bool all = true;
  for (auto* a = found; a; a = a->ai_next) all = all && is_loopback(a->ai_addr);
  freeaddrinfo(found);
  return all;
}

std::string check_tls_files(const TlsFiles& tls) {
  if (!tls.enabled()) return {};
  std::string missing;
  for (auto [flag, path] : {std::pair{"--tls-ca", &tls.ca}, {"--tls-cert", &tls.cert}, {"--tls-key", &tls.key}})
    if (path->empty()) missing += (missing.empty() ? "" : ", ") + std::string(flag);
  if (!missing.empty())
    return "TLS needs all three of --tls-ca, --tls-cert and --tls-key; missing: " + missing;
  for (auto [flag, path] : {std::pair{"--tls-ca", &tls.ca}, {"--tls-cert", &tls.cert}, {"--tls-key", &tls.key}})
    if (auto why = unreadable(flag, *path); !why.empty()) return why;
  // Load them as CAF will for every connection: CAF throws from its I/O
  // thread on a bad file, which would end the process mid-job.
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
  if (!ctx) return "cannot create an OpenSSL context: " + openssl_error();
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca.c_str(), nullptr) != 1)
    return "--tls-ca " + tls.ca + ": not a PEM CA certificate (" + openssl_error() + ")";
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert.c_str()) != 1)
    return "--tls-cert " + tls.cert + ": not a PEM certificate (" + openssl_error() + ")";
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1)
    return "--tls-key " + tls.key + ": not the unencrypted PEM private key of --tls-cert " + tls.cert +
           " (" + openssl_error() + ")";
  return {};
}

std::string check_listen_address(const std::string& host, const TransportOptions& options) {
  if (options.tls.enabled() || options.insecure || is_loopback_host(host)) return {};
  return "refusing to listen on " + (host.empty() ? std::string("every interface") : host) +
         " without TLS: anyone who can reach it could join the cluster and read its data. "
         "Give --tls-ca --tls-cert --tls-key (see bench/make-certs.sh), listen on 127.0.0.1, "
         "or accept the risk with --insecure";
}

void configure_transport(caf::actor_system_config& cfg, const TransportOptions& options) {
  openssl_error_queue_is_cleared();  // see dstream/openssl_error_queue.cpp
  cfg.load<caf::io::middleman>();
  // Without heartbeats a peer that vanished without closing its socket
  // is only noticed after a TCP timeout of minutes; with the timeout a peer
  // that stops talking (or sends half a frame) is cut off.
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(500)});
  cfg.set("middleman.connection-timeout",
          caf::timespan{std::chrono::milliseconds(options.connection_timeout_ms)});
  // Workers reach each other through the coordinator: no node opens
  // connections of its own to addresses a peer announced.
  cfg.set("middleman.enable-automatic-connections", false);
  if (!options.tls.enabled()) return;
  cfg.load<caf::openssl::manager>();
  // Any of these set turns on CAF's authenticated mode: both sides of every
  // connection must present a certificate the CA signed
  // (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT).
  cfg.openssl_cafile = options.tls.ca;
  cfg.openssl_certificate = options.tls.cert;
  cfg.openssl_key = options.tls.key;
}

PublishedCoordinator::PublishedCoordinator(caf::actor_system& sys, caf::actor coordinator, uint16_t caf_port,
                                           const TransportOptions& options)
    : sys_(sys), coordinator_(std::move(coordinator)), caf_port_(caf_port), tls_(options.tls.enabled()) {}

void PublishedCoordinator::unpublish() {
  if (!coordinator_) return;
  if (gate_) gate_->stop_accepting();
  if (tls_)  // (caf/openssl/unpublish.hpp does not compile in 0.17.6)
    caf::anon_send(sys_.openssl_manager().actor_handle(), caf::unpublish_atom::value, coordinator_.address(),
                   caf_port_);
  else
    sys_.middleman().unpublish(coordinator_, caf_port_);
  coordinator_ = nullptr;
}

caf::expected<std::unique_ptr<PublishedCoordinator>> publish_coordinator(
    caf::actor_system& sys, const caf::actor& coordinator, const std::string& host, uint16_t port,
    const TransportOptions& options) {
  // CAF on an ephemeral loopback port: only the gate (and local users, see
  // README "Securing a cluster") reach it.
  caf::expected<uint16_t> caf_port{0};
  try {
    caf_port = options.tls.enabled() ? caf::openssl::publish(coordinator, 0, "127.0.0.1", true)
                                     : sys.middleman().publish(coordinator, 0, "127.0.0.1", true);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::runtime_error, e.what());
  }
  if (!caf_port) return caf_port.error();
  auto published = std::make_unique<PublishedCoordinator>(sys, coordinator, *caf_port, options);
  std::string error;
  published->gate_ = PeerGate::start(host, port, *caf_port,
                                     options.tls.enabled() ? PeerProtocol::tls : PeerProtocol::plain,
                                     options.peers, error);
  if (!published->gate_) {
    published->unpublish();
    return caf::make_error(caf::sec::runtime_error, error);
  }
  spdlog::info("peer gate on port {}: at most {} peers, {} ms to authenticate{}; CAF behind it on 127.0.0.1:{}",
               published->port(), options.peers.max_peers, options.peers.handshake_timeout_ms,
               options.tls.enabled() ? std::string()
                                     : ", frames of at most " + std::to_string(options.peers.max_frame_bytes >> 20) + " MiB",
               *caf_port);
  return published;
}

caf::expected<caf::actor> connect_to_coordinator(caf::actor_system& sys, const std::string& host,
                                                 uint16_t port, const TransportOptions& options) {
  try {
    if (options.tls.enabled()) return caf::openssl::remote_actor<caf::actor>(sys, host, port);
    return sys.middleman().remote_actor(host, port);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::runtime_error, e.what());
  }
}

}  // namespace trib
