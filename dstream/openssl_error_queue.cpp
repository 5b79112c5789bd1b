// CAF 0.17's TLS sessions (libcaf_openssl's session.cpp) never empty
// OpenSSL's per-thread error queue after a failed handshake, and
// SSL_get_error() reads that queue. So once one peer failed its handshake on
// the multiplexer thread (a client without a certificate, or one byte 0x16
// and a close), the next SSL_read that merely has to wait for more bytes, on
// any other connection, was taken for a fatal error and that connection
// closed: one unauthenticated connection dropped every worker.
//
// These four take the place of libssl's in this process (an executable's
// definitions come first in ELF symbol lookup, CAF's calls included): each
// empties the queue, as OpenSSL's documentation asks of callers, and calls
// libssl's own; a refused handshake is logged, which CAF does not do.
#include <dlfcn.h>

#include <chrono>
#include <cstdint>
#include <mutex>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "dstream/cluster_transport.hpp"

namespace {

template <class F>
F libssl(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

// CAF closes a peer whose TLS handshake fails without a word. Says why, at
// most once every 5 s with how many since (a flood must not flood the log),
// reading the error without taking it off the queue, where CAF looks next.
// The peer's address is in the peer gate's summary: here every peer is the
// gate's relay.
void log_refused_handshake() {
  static std::mutex mutex;
  static std::chrono::steady_clock::time_point last;
  static uint64_t since = 0;
  std::lock_guard<std::mutex> lock(mutex);
  ++since;
  auto now = std::chrono::steady_clock::now();
  if (last != std::chrono::steady_clock::time_point{} && now - last < std::chrono::seconds(5)) return;
  char why[256] = "unknown";
  if (unsigned long e = ERR_peek_last_error()) ERR_error_string_n(e, why, sizeof why);
  spdlog::warn("TLS: refused {} peer handshake{} (last: {})", since, since == 1 ? "" : "s", why);
  since = 0;
  last = now;
}

}  // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = libssl<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = libssl<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static auto real = libssl<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  int ret = real(ssl);
  if (ret <= 0 && SSL_get_error(ssl, ret) == SSL_ERROR_SSL) log_refused_handshake();
  return ret;
}

int SSL_connect(SSL* ssl) {
  static auto real = libssl<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

}  // extern "C"

namespace trib {
// Referenced by configure_transport: it pulls this file out of the static
// library into every program that runs the transport.
void openssl_error_queue_is_cleared() {}
}  // namespace trib
