#include "dstream/peer_check.hpp"

#include <algorithm>
#include <cstring>

namespace trib {

namespace {

// Record types 20..23: change cipher spec, alert, handshake, application data.
constexpr int kTlsChangeCipherSpec = 20, kTlsHandshake = 22, kTlsApplicationData = 23;
// The largest TLS record body (2^14 plus the most expansion TLS 1.2 allows).
constexpr uint32_t kMaxTlsRecord = (1u << 14) + 2048;
constexpr unsigned char kBaspClientHandshake = 1, kBaspLastType = 6;  // heartbeat

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

// on_header(header) returns the body's length, or -1 to stop; on_end()
// runs when a body is complete.
template <class OnHeader, class OnEnd>
void PeerCheck::split(Framer& f, const unsigned char* data, std::size_t n, OnHeader on_header, OnEnd on_end) {
  while (n > 0) {
    if (!f.in_body) {
      std::size_t take = std::min(n, f.header_size - f.have);
      std::memcpy(f.header + f.have, data, take);
      f.have += take, data += take, n -= take;
      if (f.have < f.header_size) return;
      int64_t body = on_header(f.header);
      if (body < 0) return;
      f.have = 0;
      f.body_left = static_cast<uint64_t>(body);
      f.in_body = true;
    }
    std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(n, f.body_left));
    f.body_left -= take, data += take, n -= take;
    if (f.body_left == 0) {
      f.in_body = false;
      on_end();
    }
  }
}

std::string PeerCheck::check_tls_record(const unsigned char* h) {
  uint32_t length = (uint32_t{h[3]} << 8) | h[4];
  if (peer_units_ == 0 && h[0] != kTlsHandshake) return "not a TLS handshake";
  if (h[0] < kTlsChangeCipherSpec || h[0] > kTlsApplicationData || h[1] != 3)
    return "not a TLS record";
  if (length > kMaxTlsRecord) return "TLS record of " + std::to_string(length) + " bytes";
  peer_record_type_ = h[0];
  return {};
}

std::string PeerCheck::check_basp_frame(const unsigned char* h) {
  uint32_t length = be32(h + 4);
  if (h[0] > kBaspLastType) return "not a CAF frame";
  if (peer_units_ == 0 && (h[0] != kBaspClientHandshake || length > kMaxHandshakeBytes))
    return "not a CAF client handshake";
  if (length > max_frame_bytes_)
    return "a CAF frame announcing " + std::to_string(length) + " bytes (at most " +
           std::to_string(max_frame_bytes_) + " allowed)";
  return {};
}

std::string PeerCheck::from_peer(const unsigned char* data, std::size_t n) {
  // Past the TLS handshake the records are opaque: nothing more to learn.
  if (protocol_ == PeerProtocol::tls && admitted_) return {};
  std::string error;
  split(
      peer_, data, n,
      [&](const unsigned char* h) -> int64_t {
        error = protocol_ == PeerProtocol::tls ? check_tls_record(h) : check_basp_frame(h);
        ++peer_units_;
        if (!error.empty()) return -1;
        return protocol_ == PeerProtocol::tls ? ((uint32_t{h[3]} << 8) | h[4]) : be32(h + 4);
      },
      [&] {
        if (protocol_ == PeerProtocol::plain) admitted_ = true;  // the handshake frame is whole
        else if (peer_record_type_ == kTlsApplicationData) peer_app_record_ = true;
      });
  return error;
}

void PeerCheck::from_coordinator(const unsigned char* data, std::size_t n) {
  if (protocol_ != PeerProtocol::tls || admitted_) return;
  split(
      coordinator_, data, n,
      [&](const unsigned char* h) -> int64_t {
        if (h[0] == kTlsApplicationData && peer_app_record_) admitted_ = true;
        return (uint32_t{h[3]} << 8) | h[4];
      },
      [] {});
}

}  // namespace trib
