#include "apps/chaos/proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace trib::chaos {

struct FaultProxy::Link {
  int worker_fd = -1, coordinator_fd = -1;
  std::atomic<bool> closed{false};
  // Ends both directions; the fds are closed when the last pump lets go.
  void close_now(bool reset) {
    if (closed.exchange(true)) return;
    for (int fd : {worker_fd, coordinator_fd}) {
      if (reset) {
        linger l{1, 0};  // an RST rather than a FIN
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      }
      ::shutdown(fd, SHUT_RDWR);
    }
  }
  ~Link() {
    ::close(worker_fd);
    ::close(coordinator_fd);
  }
};

namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void sleep_ms(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

FaultProxy::FaultProxy(uint16_t target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(0);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error(std::string("proxy: cannot listen on 127.0.0.1: ") + std::strerror(errno));
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  reset();
  std::unique_lock<std::mutex> lock(mutex_);
  pumps_done_.wait(lock, [this] { return live_pumps_ == 0; });
}

bool FaultProxy::start_pump(const std::shared_ptr<Link>& link, bool up) {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    std::thread([this, link, up] {
      pump(link, up);
      std::lock_guard<std::mutex> done(mutex_);
      --live_pumps_;
      pumps_done_.notify_all();
    }).detach();
  } catch (const std::system_error&) {  // out of threads: drop this connection, not the runner
    return false;
  }
  ++live_pumps_;
  return true;
}

void FaultProxy::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(target_port_);
    if (up < 0 || ::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      // The coordinator is down: the worker sees a refused connection, as it would without us.
      linger l{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::close(fd);
      if (up >= 0) ::close(up);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto link = std::make_shared<Link>();
    link->worker_fd = fd;
    link->coordinator_fd = up;
    ++accepted_;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      links_.erase(std::remove_if(links_.begin(), links_.end(), [](auto& l) { return l.expired(); }),
                   links_.end());
      links_.push_back(link);
    }
    // The worker sees its connection drop, as it would if the link failed.
    if (!start_pump(link, true) || !start_pump(link, false)) link->close_now(true);
  }
}

void FaultProxy::pump(std::shared_ptr<Link> link, bool up) {
  int from = up ? link->worker_fd : link->coordinator_fd;
  int to = up ? link->coordinator_fd : link->worker_fd;
  std::atomic<bool>& held = up ? hold_up_ : hold_down_;
  std::vector<char> buf(64 * 1024);
  while (!link->closed && !stopping_) {
    if (held) {  // the bytes wait in the kernel's buffers, as behind a dropped link
      sleep_ms(10);
      continue;
    }
    pollfd p{from, POLLIN, 0};
    int r = ::poll(&p, 1, 50);
    if (r == 0 || (r < 0 && errno == EINTR) || held) continue;  // held while waiting: leave the bytes
    int64_t rate = rate_;
    // A slow link: at most a twentieth of a second's bytes, then a pause.
    std::size_t want = rate > 0 ? static_cast<std::size_t>(std::max<int64_t>(1, rate / 20)) : buf.size();
    ssize_t n = ::recv(from, buf.data(), std::min(want, buf.size()), 0);
    if (n <= 0) break;
    if (int64_t d = delay_ms_; d > 0) sleep_ms(d);
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::send(to, buf.data() + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        link->close_now(true);
        return;
      }
      off += w;
    }
    bytes_ += n;
    if (rate > 0) sleep_ms(50);
  }
  link->close_now(false);
}

void FaultProxy::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& weak : links_)
    if (auto link = weak.lock()) link->close_now(true);
  links_.clear();
}

void FaultProxy::hold(bool up, bool down) {
  hold_up_ = up;
  hold_down_ = down;
}

void FaultProxy::heal() {
  hold(false, false);
  delay_ms_ = 0;
  rate_ = 0;
}

}  // namespace trib::chaos
