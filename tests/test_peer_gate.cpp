// PeerGate as a relay: many megabytes both ways arrive whole and in order
// (a full pipe must resume once drained), and the cap resets extra peers.
#define BOOST_TEST_MODULE peer_gate
#include <boost/test/unit_test.hpp>

#include <thread>

#include "dstream/peer_gate.hpp"
#include "tcp_server.hpp"

using namespace testing;

namespace {

int connect_loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& bytes) {
  for (std::size_t sent = 0; sent < bytes.size();) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed");
    sent += static_cast<std::size_t>(n);
  }
}

std::string receive(int fd, std::size_t n) {
  std::string bytes(n, '\0');
  for (std::size_t got = 0; got < n;) {
    pollfd p{fd, POLLIN, 0};
    ssize_t r = poll(&p, 1, 10000) == 1 ? ::recv(fd, &bytes[got], n - got, 0) : -1;
    if (r <= 0) throw std::runtime_error("received " + std::to_string(got) + " of " + std::to_string(n));
    got += static_cast<std::size_t>(r);
  }
  return bytes;
}

// A BASP frame: header (operation, payload length in network order) and payload.
std::string frame(unsigned char operation, const std::string& payload) {
  std::string h(32, '\0');
  h[0] = static_cast<char>(operation);
  auto n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<char>(n >> (24 - 8 * i));
  return h + payload;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sixty_four_megabytes_each_way_pass_whole_and_in_order) {
  TcpServer caf;  // stands for CAF's loopback port
  std::string error;
  auto gate = trib::PeerGate::start("127.0.0.1", 0, caf.port(), trib::PeerProtocol::plain, {}, error);
  BOOST_REQUIRE_MESSAGE(gate, error);
  int peer = connect_loopback(gate->port());
  BOOST_REQUIRE(peer >= 0);
  std::string up = frame(1, "hello");
  for (int i = 0; up.size() < (64u << 20); ++i) up += frame(2, std::string(100000 + i % 7, static_cast<char>('a' + i % 26)));
  std::string down(64u << 20, 'z');
  for (std::size_t i = 0; i < down.size(); i += 4099) down[i] = static_cast<char>(i);
  // Both directions at once, neither side reading until it has written a lot.
  std::thread writer([&] { send_all(peer, up); });
  caf.accept_client();
  std::thread answer([&] { caf.send(down); });
  std::string got_up = caf.receive(up.size());
  std::string got_down = receive(peer, down.size());
  writer.join();
  answer.join();
  BOOST_TEST((got_up == up), "peer -> CAF bytes differ");
  BOOST_TEST((got_down == down), "CAF -> peer bytes differ");
  ::close(peer);
}

BOOST_AUTO_TEST_CASE(peers_beyond_the_cap_are_reset_at_once) {
  TcpServer caf;
  std::string error;
  trib::PeerLimits limits;
  limits.max_peers = 2;
  auto gate = trib::PeerGate::start("127.0.0.1", 0, caf.port(), trib::PeerProtocol::tls, limits, error);
  BOOST_REQUIRE_MESSAGE(gate, error);
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) fds.push_back(connect_loopback(gate->port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int reset = 0;
  for (int fd : fds) {
    char c;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) == 1 && ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0) ++reset;
    ::close(fd);
  }
  BOOST_TEST(reset == 3);
}
