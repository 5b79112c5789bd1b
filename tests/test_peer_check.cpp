// PeerCheck: what the peer gate lets through to CAF, byte by byte.
#define BOOST_TEST_MODULE peer_check
#include <boost/test/unit_test.hpp>

#include <vector>

#include "dstream/peer_check.hpp"

using trib::PeerCheck;
using trib::PeerProtocol;
using Bytes = std::vector<unsigned char>;

namespace {

// A BASP header: operation, payload length (network order), rest zero.
Bytes basp(unsigned char operation, uint32_t length) {
  Bytes h(32, 0);
  h[0] = operation;
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<unsigned char>(length >> (24 - 8 * i));
  return h;
}

// A TLS record of `type` with a body of `length` bytes.
Bytes record(unsigned char type, uint16_t length) {
  Bytes r{type, 3, 3, static_cast<unsigned char>(length >> 8), static_cast<unsigned char>(length)};
  r.resize(5 + length, 0xab);
  return r;
}

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string feed(PeerCheck& c, const Bytes& b) { return c.from_peer(b.data(), b.size()); }

}  // namespace

BOOST_AUTO_TEST_CASE(plain_a_handshake_admits_and_an_oversized_frame_is_dropped_even_byte_by_byte) {
  PeerCheck check(PeerProtocol::plain, 1 << 20);
  auto stream = basp(1, 100) + Bytes(100, 7) + basp(2, 1 << 20) + Bytes(10, 0);
  for (unsigned char b : stream) BOOST_REQUIRE(check.from_peer(&b, 1).empty());
  BOOST_TEST(check.admitted());
  auto why = feed(check, basp(6, 0) + basp(2, 0xffffffffu));
  BOOST_TEST(why.empty(), why);  // still inside the 1 MiB frame: its bytes are payload
  PeerCheck fresh(PeerProtocol::plain, 1 << 20);
  feed(fresh, basp(1, 0));
  why = feed(fresh, basp(6, 0) + basp(2, (1 << 20) + 1));
  BOOST_TEST(why.find("announcing 1048577 bytes") != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(plain_the_first_frame_must_be_a_small_client_handshake) {
  PeerCheck big(PeerProtocol::plain, 64 << 20);
  BOOST_TEST(feed(big, basp(1, 0xffffffffu)) == "not a CAF client handshake");
  PeerCheck other(PeerProtocol::plain, 64 << 20);
  BOOST_TEST(feed(other, basp(2, 10)) == "not a CAF client handshake");
  PeerCheck junk(PeerProtocol::plain, 64 << 20);
  BOOST_TEST(feed(junk, Bytes{'G', 'E', 'T', ' '} + Bytes(28, 'x')) == "not a CAF frame");
  PeerCheck partial(PeerProtocol::plain, 64 << 20);
  BOOST_TEST(feed(partial, basp(1, 10) + Bytes(9, 0)).empty());
  BOOST_TEST(!partial.admitted());
}

BOOST_AUTO_TEST_CASE(tls_admitted_only_when_the_coordinator_answers_the_peers_application_data) {
  PeerCheck check(PeerProtocol::tls, 1);
  BOOST_TEST(feed(check, record(22, 300)).empty());  // ClientHello
  auto flight = record(22, 100) + record(23, 2000);  // ServerHello, encrypted rest (TLS 1.3)
  check.from_coordinator(flight.data(), flight.size());
  BOOST_TEST(!check.admitted());
  auto cert = record(23, 900);  // the peer's encrypted certificate: whole, yet unanswered
  BOOST_TEST(feed(check, Bytes(cert.begin(), cert.end() - 1)).empty());
  auto ticket = record(23, 200);
  check.from_coordinator(ticket.data(), 3);
  BOOST_TEST(!check.admitted());  // its record began before the peer's ended
  check.from_coordinator(ticket.data() + 3, ticket.size() - 3);
  BOOST_TEST(feed(check, Bytes{cert.back()}).empty());
  BOOST_TEST(!check.admitted());
  check.from_coordinator(ticket.data(), ticket.size());
  BOOST_TEST(check.admitted());
}

BOOST_AUTO_TEST_CASE(tls_a_peer_must_open_with_a_handshake_and_send_records) {
  PeerCheck raw(PeerProtocol::tls, 1);
  BOOST_TEST(feed(raw, Bytes{0x01, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}) == "not a TLS handshake");
  PeerCheck app_first(PeerProtocol::tls, 1);
  BOOST_TEST(feed(app_first, record(23, 10)) == "not a TLS handshake");
  PeerCheck huge(PeerProtocol::tls, 1);
  BOOST_TEST(feed(huge, Bytes{22, 3, 1, 0xff, 0xff}).find("TLS record of 65535 bytes") == 0);
  PeerCheck http(PeerProtocol::tls, 1);
  BOOST_TEST(feed(http, Bytes{'G', 'E', 'T', ' ', '/'}) == "not a TLS handshake");
}
