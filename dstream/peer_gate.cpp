#include "dstream/peer_gate.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <spdlog/spdlog.h>

namespace trib {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Per direction of a relayed connection: enough to keep a loopback hop busy.
constexpr std::size_t kPipeBytes = 128 * 1024;
// Summaries of refused and timed-out peers are logged at most this often.
constexpr auto kLogEvery = std::chrono::seconds(5);

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Closes with a reset: the peer learns at once, and no TIME_WAIT is kept.
void reset(int fd) {
  linger hard{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  ::close(fd);
}

// A connected socket to 127.0.0.1:port, non-blocking; -1 on failure.
int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // CAF accepts at once; the timeout only guards against a stuck backlog.
  timeval limit{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// A listening socket on host:port (host empty: every interface), or -1
// with `error` set.
int listen_on(const std::string& host, uint16_t port, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  // Every interface: prefer one dual-stack IPv6 socket (as CAF does).
  std::vector<addrinfo*> order;
  for (auto* a = found; a; a = a->ai_next)
    if (host.empty() && a->ai_family == AF_INET6) order.insert(order.begin(), a);
    else order.push_back(a);
  int fd = -1;
  for (auto* a : order) {
    fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) break;
    error = errno_text("cannot listen");
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  return fd;
}

uint16_t local_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

// Bytes read from one side of a relay and not yet written to the other.
struct Pipe {
  std::vector<unsigned char> buf;  // allocated on first use
  std::size_t begin = 0, end = 0;
  bool eof = false;  // the reading side has ended
  bool empty() const { return begin == end; }
  // No room even after moving the bytes to the front.
  bool full() const { return !buf.empty() && end - begin == buf.size(); }
  // Room at the end (moving the bytes to the front when they reach it).
  std::pair<unsigned char*, std::size_t> space() {
    if (buf.empty()) buf.resize(kPipeBytes);
    if (empty()) begin = end = 0;
    if (end == buf.size() && begin > 0) {
      std::memmove(buf.data(), buf.data() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
    return {buf.data() + end, buf.size() - end};
  }
};

struct Relay;
// One socket of a relay, as epoll knows it.
struct Side {
  Relay* relay;
  bool is_peer;
  int fd = -1;
  uint32_t events = 0;  // registered with epoll
  bool registered = false;
};

// A peer connection and its connection to CAF, made when the peer first
// sends something (an idle peer never reaches CAF).
struct Relay {
  Relay(int peer_fd, std::string from, PeerProtocol protocol, uint32_t max_frame)
      : check(protocol, max_frame), accepted(Clock::now()), address(std::move(from)) {
    peer.fd = peer_fd;
  }
  Side peer{this, true}, upstream{this, false};
  Pipe to_upstream, to_peer;
  PeerCheck check;
  Clock::time_point accepted;
  std::string address;  // the peer's, for the log
  bool closed = false;
};

// "203.0.113.7:51234" ("[2001:db8::1]:51234").
std::string address_text(const sockaddr_storage& sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (sa.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (sa.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  }
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

}  // namespace

struct PeerGate::Impl {
  int listener = -1, epoll = -1, wake = -1;
  uint16_t port = 0, upstream_port = 0;
  PeerProtocol protocol = PeerProtocol::tls;
  PeerLimits limits;
  std::thread thread;
  std::atomic<bool> quit{false}, stop_accepting{false};  // asked through `wake`
  std::unordered_set<Relay*> relays;
  bool listener_paused = false;
  Clock::time_point resume_listener, next_expiry = Clock::now();
  // What was refused or closed since the last log line, and why the last drop.
  uint64_t refused = 0, timed_out = 0, dropped = 0;
  std::string last_drop, last_refused, last_timed_out;  // what and whom
  Clock::time_point last_log = Clock::now() - kLogEvery;

  ~Impl() {
    for (auto* r : relays) destroy(r);
    for (int fd : {listener, epoll, wake})
      if (fd >= 0) ::close(fd);
  }

  void run() {
    epoll_event events[128];
    for (;;) {
      int n = epoll_wait(epoll, events, 128, 100);
      if (n < 0 && errno != EINTR) {
        spdlog::error("peer gate: {}", errno_text("epoll_wait"));
        return;
      }
      std::vector<Relay*> finished;
      for (int i = 0; i < n; ++i) {
        void* ptr = events[i].data.ptr;
        if (ptr == &wake) {
          uint64_t count;
          if (::read(wake, &count, sizeof(count)) < 0) continue;
          if (quit) return;
          if (stop_accepting && listener >= 0) {
            ::close(listener);  // (which takes it out of epoll)
            listener = -1;
            listener_paused = false;
          }
          continue;
        }
        if (ptr == &listener) {
          accept_peers();
          continue;
        }
        auto* side = static_cast<Side*>(ptr);
        Relay& r = *side->relay;
        if (r.closed) continue;
        serve(r, *side, events[i].events);
        if (r.closed) finished.push_back(&r);
      }
      expire(finished);
      for (auto* r : finished)
        if (relays.erase(r)) destroy(r);
      if (listener_paused && Clock::now() >= resume_listener) {
        epoll_event ev{EPOLLIN, {&listener}};
        epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &ev);
        listener_paused = false;
      }
      log_summary();
    }
  }

  void accept_peers() {
    for (;;) {
      sockaddr_storage from{};
      socklen_t from_size = sizeof from;
      int fd = accept4(listener, reinterpret_cast<sockaddr*>(&from), &from_size, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors: leave the rest in the kernel's backlog a while.
          spdlog::warn("peer gate: {}; not accepting for 100 ms", errno_text("accept"));
          epoll_ctl(epoll, EPOLL_CTL_DEL, listener, nullptr);
          listener_paused = true;
          resume_listener = Clock::now() + milliseconds(100);
        }
        return;
      }
      if (static_cast<int>(relays.size()) >= limits.max_peers) {
        ++refused;
        last_refused = address_text(from);
        reset(fd);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      auto* r = new Relay(fd, address_text(from), protocol, limits.max_frame_bytes);
      relays.insert(r);
      update(*r);
    }
  }

  // Reads what `side` has, checks and forwards it, writes what it waits
  // for. Either side ending ends the relay, once what it sent is passed on
  // (CAF never half-closes, and a peer that stops sending is done).
  void serve(Relay& r, Side& side, uint32_t events) {
    Pipe& in = side.is_peer ? r.to_upstream : r.to_peer;
    Pipe& out = side.is_peer ? r.to_peer : r.to_upstream;
    Side& other = side.is_peer ? r.upstream : r.peer;
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !in.full()) {
      auto [at, room] = in.space();
      ssize_t n = ::recv(side.fd, at, room, 0);
      if (n > 0) {
        if (side.is_peer) {
          if (auto why = r.check.from_peer(at, static_cast<std::size_t>(n)); !why.empty()) return drop(r, why);
        } else {
          r.check.from_coordinator(at, static_cast<std::size_t>(n));
        }
        in.end += static_cast<std::size_t>(n);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        in.eof = true;
      }
    }
    if (side.is_peer && r.upstream.fd < 0 && !in.empty()) {
      r.upstream.fd = connect_loopback(upstream_port);
      if (r.upstream.fd < 0) return drop(r, errno_text("cannot reach CAF on its loopback port"));
    }
    if (!write(other, in) || ((events & EPOLLOUT) && !write(side, out))) return close(r);
    if (in.eof) return close(r);
    update(r);
  }

  // Writes what `pipe` holds to `side`; false on an error.
  static bool write(Side& side, Pipe& pipe) {
    if (pipe.empty() || side.fd < 0) return true;
    ssize_t n = ::send(side.fd, pipe.buf.data() + pipe.begin, pipe.end - pipe.begin, MSG_NOSIGNAL);
    if (n > 0) pipe.begin += static_cast<std::size_t>(n);
    return n >= 0 || errno == EAGAIN || errno == EINTR;
  }

  // Registers each side for what it can do now: read while its pipe has
  // room, write while the other pipe holds bytes.
  void update(Relay& r) {
    auto set = [&](Side& s, Pipe& in, Pipe& out) {
      if (s.fd < 0) return;
      uint32_t e = (in.full() ? 0u : uint32_t{EPOLLIN}) | (out.empty() ? 0u : uint32_t{EPOLLOUT});
      if (s.registered && e == s.events) return;
      epoll_event ev{e, {&s}};
      epoll_ctl(epoll, s.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s.fd, &ev);
      s.registered = true;
      s.events = e;
    };
    set(r.peer, r.to_upstream, r.to_peer);
    set(r.upstream, r.to_peer, r.to_upstream);
  }

  void drop(Relay& r, const std::string& why) {
    ++dropped;
    last_drop = why + ", from " + r.address;
    close(r);
  }
  static void close(Relay& r) { r.closed = true; }

  // Peers not admitted within the handshake timeout.
  void expire(std::vector<Relay*>& finished) {
    auto now = Clock::now();
    if (now < next_expiry) return;
    next_expiry = now + milliseconds(100);
    for (auto* r : relays)
      if (!r->closed && !r->check.admitted() && now - r->accepted > milliseconds(limits.handshake_timeout_ms)) {
        ++timed_out;
        last_timed_out = r->address;
        close(*r);
        finished.push_back(r);
      }
  }

  void destroy(Relay* r) {
    for (Side* s : {&r->peer, &r->upstream})
      if (s->fd >= 0) ::close(s->fd);  // (closing removes it from epoll)
    delete r;
  }

  // At most one line per kLogEvery: a flood of peers must not flood the log.
  void log_summary() {
    if (refused + timed_out + dropped == 0 || Clock::now() - last_log < kLogEvery) return;
    auto last = [](uint64_t n, const std::string& what) { return n ? " (last: " + what + ")" : std::string(); };
    spdlog::warn("peer gate: refused {} connections over --max-peers {}{}, closed {} not admitted within {} ms{}, "
                 "dropped {}{}",
                 refused, limits.max_peers, last(refused, last_refused), timed_out, limits.handshake_timeout_ms,
                 last(timed_out, last_timed_out), dropped, last(dropped, last_drop));
    refused = timed_out = dropped = 0;
    last_log = Clock::now();
  }
};

std::string check_peer_limits(const PeerLimits& limits) {
  if (limits.max_peers < 1) return "--max-peers must be at least 1";
  if (limits.handshake_timeout_ms < 1) return "--handshake-ms must be positive";
  if (limits.max_frame_bytes < PeerCheck::kMaxHandshakeBytes) return "--max-frame-mb must be at least 1";
  return {};
}

std::unique_ptr<PeerGate> PeerGate::start(const std::string& host, uint16_t port, uint16_t upstream_port,
                                          PeerProtocol protocol, const PeerLimits& limits, std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->protocol = protocol;
  impl->limits = limits;
  impl->upstream_port = upstream_port;
  impl->listener = listen_on(host, port, error);
  if (impl->listener < 0) return nullptr;
  impl->port = local_port(impl->listener);
  impl->epoll = epoll_create1(EPOLL_CLOEXEC);
  impl->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->epoll < 0 || impl->wake < 0) {
    error = errno_text("peer gate");
    return nullptr;
  }
  epoll_event on_listener{EPOLLIN, {&impl->listener}}, on_wake{EPOLLIN, {&impl->wake}};
  epoll_ctl(impl->epoll, EPOLL_CTL_ADD, impl->listener, &on_listener);
  epoll_ctl(impl->epoll, EPOLL_CTL_ADD, impl->wake, &on_wake);
  impl->thread = std::thread([gate = impl.get()] { gate->run(); });
  return std::unique_ptr<PeerGate>(new PeerGate(std::move(impl)));
}

PeerGate::PeerGate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

namespace {
void wake(int fd) {
  uint64_t one = 1;
  if (::write(fd, &one, sizeof(one)) < 0) spdlog::error("peer gate: {}", errno_text("cannot wake"));
}
}  // namespace

PeerGate::~PeerGate() {
  impl_->quit = true;
  wake(impl_->wake);
  impl_->thread.join();
}

void PeerGate::stop_accepting() {
  impl_->stop_accepting = true;
  wake(impl_->wake);
}

uint16_t PeerGate::port() const { return impl_->port; }

}  // namespace trib
