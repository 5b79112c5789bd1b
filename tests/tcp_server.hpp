// A real TCP server on loopback for the socket source tests: accepts one
// connection at a time and sends what the test tells it to.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace testing {

class TcpServer {
 public:
  // Listens on 127.0.0.1:port (0: any free port).
  explicit TcpServer(uint16_t port = 0) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 4) != 0)
      throw std::runtime_error("test server cannot listen on port " + std::to_string(port));
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }

  ~TcpServer() {
    close_client();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }

  // Waits (at most 30 s) for the receiver to connect.
  void accept_client() {
    if (!try_accept_client(30000)) throw std::runtime_error("no client connected");
  }

  // Waits at most timeout_ms for the receiver to connect; false if none did.
  bool try_accept_client(int timeout_ms) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return false;
    client_fd_ = ::accept(listen_fd_, nullptr, nullptr);
    if (client_fd_ < 0) throw std::runtime_error("accept failed");
    return true;
  }

  void send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(client_fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      sent += static_cast<std::size_t>(n);
    }
  }

  // Exactly n bytes from the client (waiting at most 10 s for each read).
  std::string receive(std::size_t n) {
    std::string bytes(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      pollfd p{client_fd_, POLLIN, 0};
      ssize_t r = poll(&p, 1, 10000) == 1 ? ::recv(client_fd_, &bytes[got], n - got, 0) : -1;
      if (r <= 0) throw std::runtime_error("the client sent " + std::to_string(got) + " of " + std::to_string(n) + " bytes");
      got += static_cast<std::size_t>(r);
    }
    return bytes;
  }

  // Ends the connection with an RST instead of a FIN (a broken connection).
  void reset_client() {
    linger l{1, 0};
    setsockopt(client_fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close_client();
  }

  void close_client() {
    if (client_fd_ >= 0) ::close(client_fd_);
    client_fd_ = -1;
  }

 private:
  int listen_fd_ = -1;
  int client_fd_ = -1;
  uint16_t port_ = 0;
};

// A loopback port nothing listens on (bound, then released).
inline uint16_t unused_port() {
  TcpServer probe;
  return probe.port();
}

}  // namespace testing
