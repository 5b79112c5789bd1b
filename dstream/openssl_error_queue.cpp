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
// libssl's own.
#include <dlfcn.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "dstream/cluster_transport.hpp"

namespace {

template <class F>
F libssl(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
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
  return real(ssl);
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
