// What the peer gate (dstream/peer_gate.hpp) learns from the bytes of one
// peer connection before it relays them to CAF: whether the peer has been
// admitted yet, and whether it must be dropped.
//
// TLS: the bytes are TLS records, whose 5-byte headers are plain text. The
// peer must open with a handshake record; it counts as admitted once it has
// sent a whole application-data record and the coordinator answered with
// one after it. Before the handshake ends CAF sends no application data in
// TLS 1.2; in TLS 1.3 its whole first flight precedes the peer's first
// application-data record, and a peer that fails the handshake gets an
// alert and is closed. A member is answered within a heartbeat interval.
//
// Plain CAF (no TLS): the bytes are BASP frames, a 32-byte header whose
// payload length (bytes 4..7, network order) CAF allocates before reading
// the payload. The first frame must be a client handshake of at most
// kMaxHandshakeBytes; no frame may announce more than the configured bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace trib {

enum class PeerProtocol { tls, plain };

class PeerCheck {
 public:
  // A client handshake carries a node id and a few names: far below this.
  static constexpr uint32_t kMaxHandshakeBytes = 64 * 1024;

  PeerCheck(PeerProtocol protocol, uint32_t max_frame_bytes)
      : protocol_(protocol), max_frame_bytes_(max_frame_bytes) {}

  // Bytes the peer sent, in order. Empty if they may be relayed, else why
  // the connection must be dropped.
  std::string from_peer(const unsigned char* data, std::size_t n);
  // Bytes the coordinator sent to the peer, in order.
  void from_coordinator(const unsigned char* data, std::size_t n);

  // TLS: the handshake has ended; plain: the peer's CAF handshake arrived.
  bool admitted() const { return admitted_; }

 private:
  // Splits a byte stream into records or frames: a header of fixed size,
  // then a body whose length the header gives.
  struct Framer {
    unsigned char header[32];
    std::size_t header_size;
    std::size_t have = 0;     // header bytes so far
    uint64_t body_left = 0;   // body bytes still to come
    bool in_body = false;
    explicit Framer(std::size_t size) : header_size(size) {}
  };
  template <class OnHeader, class OnEnd>
  static void split(Framer& f, const unsigned char* data, std::size_t n, OnHeader on_header, OnEnd on_end);

  std::string check_tls_record(const unsigned char* header);
  std::string check_basp_frame(const unsigned char* header);

  PeerProtocol protocol_;
  uint32_t max_frame_bytes_;
  bool admitted_ = false;
  Framer peer_{protocol_ == PeerProtocol::tls ? 5u : 32u};
  Framer coordinator_{5};
  uint64_t peer_units_ = 0;          // records or frames the peer began
  bool peer_app_record_ = false;     // TLS: the peer sent a whole application-data record
  int peer_record_type_ = 0;         // TLS: type of the peer's current record
};

}  // namespace trib
