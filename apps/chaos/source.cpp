#include "apps/chaos/source.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include "dstream/core/checksum.hpp"
#include "dstream/core/hashing.hpp"

namespace fs = std::filesystem;

namespace trib::chaos {
namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* kWords[] = {"apple", "kiwi",  "plum",  "fig",   "pear",  "lime",  "date", "grape",
                        "melon", "peach", "berry", "mango", "lemon", "guava", "olive", "cherry"};

uint16_t listen_loopback(int& fd) {
  fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error(std::string("line server: cannot listen on loopback: ") + std::strerror(errno));
  return ntohs(a.sin_port);
}

uint16_t free_port() {
  int fd = -1;
  uint16_t port = listen_loopback(fd);
  ::close(fd);
  return port;
}

}  // namespace

std::string source_line(uint64_t seed, int64_t i) {
  char id[16];
  std::snprintf(id, sizeof id, "L%06lld", static_cast<long long>(i));
  std::string line = id;
  uint64_t r = splitmix64(seed * 0x2545f4914f6cdd1dULL ^ static_cast<uint64_t>(i));
  int words = 2 + static_cast<int>(r % 5);
  for (int w = 0; w < words; ++w) {
    r = splitmix64(r);
    line += " ";
    line += kWords[r % (sizeof kWords / sizeof kWords[0])];
  }
  return line;
}

std::vector<std::string> source_lines(uint64_t seed, int64_t n) {
  std::vector<std::string> lines;
  for (int64_t i = 0; i < n; ++i) lines.push_back(source_line(seed, i));
  return lines;
}

std::map<std::string, int64_t> word_counts(const std::vector<std::string>& lines) {
  std::map<std::string, int64_t> counts;
  for (auto& l : lines) {
    std::istringstream in(l);
    for (std::string w; in >> w;) ++counts[w];
  }
  return counts;
}

int64_t wal_end(const std::string& checkpoint_dir, std::string& error) {
  static const std::regex name("wal-([0-9]+)-([0-9]+)\\.log");
  std::set<std::string> streams;
  int64_t last_first = -1;
  std::string last_path;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(checkpoint_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::smatch m;
    std::string file = it->path().filename().string();
    if (!std::regex_match(file, m, name)) continue;
    streams.insert(m[1]);
    int64_t first = std::stoll(m[2]);
    if (first > last_first) {
      last_first = first;
      last_path = it->path().string();
    }
  }
  if (streams.size() != 1) {
    error = streams.empty() ? "no write-ahead log (wal-*.log) under " + checkpoint_dir +
                                  ": does the job read {socket} with a checkpoint directory under {checkpoint}?"
                            : "write-ahead logs of " + std::to_string(streams.size()) + " streams under " +
                                  checkpoint_dir + ": the job must read one socket stream";
    return -1;
  }
  // The newest segment: its first record's number, plus its whole entries
  // (header: size u32, records u32, XXH3 64 of the payload, low 32 bits of
  // XXH3 64 of the 16 bytes before; see recovery/write_ahead_log.hpp).
  std::ifstream in(last_path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int64_t end = last_first;
  std::size_t pos = 8;
  if (data.size() < 8 || data.compare(0, 8, "TRIBWAL2") != 0) {
    error = last_path + " does not start with TRIBWAL2";
    return -1;
  }
  while (pos + 20 <= data.size()) {
    uint32_t size, count, check;
    std::memcpy(&size, data.data() + pos, 4);
    std::memcpy(&count, data.data() + pos + 4, 4);
    std::memcpy(&check, data.data() + pos + 16, 4);
    if (check != static_cast<uint32_t>(checksum64(std::string_view(data.data() + pos, 16)))) break;
    if (pos + 20 + size > data.size()) break;  // torn: not accepted
    end += count;
    pos += 20 + size;
  }
  return end;
}

int64_t PacedLines::released(int64_t now) const {
  int64_t n = static_cast<int64_t>(lines.size());
  if (now <= start_wall_ms) return 0;
  return std::min<int64_t>(n, 1 + (now - start_wall_ms) * n / std::max<int64_t>(1, spread_ms));
}

LineServer::LineServer(PacedLines input, std::function<pid_t()> receiver_pid, std::string checkpoint_dir)
    : in_(std::move(input)), receiver_pid_(std::move(receiver_pid)), checkpoint_dir_(std::move(checkpoint_dir)) {
  port_ = listen_loopback(listen_fd_);
  thread_ = std::thread([this] { loop(); });
}

LineServer::~LineServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (conn_fd_ >= 0) ::close(conn_fd_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void LineServer::note(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  events_.emplace_back(wall_ms(), text);
}

std::vector<std::pair<int64_t, std::string>> LineServer::take_events() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(events_, {});
}

std::string LineServer::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

void LineServer::accept_one(int fd) {
  if (conn_fd_ >= 0) {
    ::close(conn_fd_);  // nothing was written to it since the receiver left it (it is silent or closed)
    note("the receiver left a connection with " + std::string(hang_state_ ? "the server silent mid-line" : "no close seen"));
  }
  conn_fd_ = fd;
  pending_.clear();
  pending_line_ = -1;
  hang_state_ = 0;
  pid_t pid = receiver_pid_();
  std::string how;
  // A planted bug for tests/test_chaos.cpp: a naive replayable source that
  // serves a new process everything from the first line again, lines its
  // write-ahead log already holds included.
  static const bool bug = std::getenv("TRIB_CHAOS_BUG_REPLAY_FROM_START") != nullptr;
  if (bug && conn_pid_ != 0 && pid != conn_pid_) {
    how = "a new process: from the first line (planted bug TRIB_CHAOS_BUG_REPLAY_FROM_START)";
    written_ = 0;
  } else if (pid > 0 && pid == conn_pid_) {
    how = "the same process (pid " + std::to_string(pid) + ") read every line written whole";
  } else {
    std::string error;
    int64_t end = wal_end(checkpoint_dir_, error);
    if (end < 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = error;
      how = "its write-ahead log cannot be read (" + error + ")";
    } else if (end > written_) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = "the job's write-ahead log holds " + std::to_string(end) + " records but only " +
               std::to_string(written_.load()) + " lines were written: its records are not the served lines";
      how = error_;
    } else {
      how = "a new process (pid " + std::to_string(pid) + "): its write-ahead log ends at line " + std::to_string(end);
      written_ = end;
    }
  }
  conn_pid_ = pid;
  note("connection: resuming at line " + std::to_string(written_.load()) + "; " + how);
}

void LineServer::loop() {
  char sink[256];
  while (!stop_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {conn_fd_, 0, 0}};
    int64_t now = wall_ms();
    bool more = !pending_.empty() || written_ < in_.released(now);
    if (conn_fd_ >= 0) fds[1].events = POLLIN | POLLRDHUP | (more && !hang_state_ ? POLLOUT : 0);
    int n = ::poll(fds, conn_fd_ >= 0 ? 2 : 1, 20);
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) accept_one(fd);
      continue;
    }
    if (conn_fd_ < 0) {
      if (close_requested_.exchange(false)) note("close: no connection to close");
      continue;
    }
    if (fds[1].revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) {
      ssize_t r = ::read(conn_fd_, sink, sizeof sink);
      if (r <= 0 && !(r < 0 && (errno == EAGAIN || errno == EINTR))) {
        note(std::string("the receiver closed the connection") +
             (hang_state_ ? " (the server was silent mid-line)" : "") + "; " + std::to_string(written_.load()) +
             " lines written whole");
        ::close(conn_fd_);
        conn_fd_ = -1;
        pending_.clear();
        hang_state_ = 0;
        continue;
      }
    }
    if (hang_state_) continue;
    if (close_requested_ && pending_.empty()) {
      close_requested_ = false;
      ::close(conn_fd_);  // FIN after the last whole line
      conn_fd_ = -1;
      note("closed the connection after line " + std::to_string(written_.load() - 1));
      continue;
    }
    if (pending_.empty() && !close_requested_ && written_ < in_.released(now)) {
      pending_line_ = written_;
      pending_ = in_.lines[static_cast<std::size_t>(written_.load())] + "\n";
      if (hang_requested_.exchange(false)) {
        std::string half = pending_.substr(0, std::max<std::size_t>(1, pending_.size() / 2));
        ssize_t w = ::send(conn_fd_, half.data(), half.size(), MSG_NOSIGNAL);
        if (w > 0) pending_.erase(0, static_cast<std::size_t>(w));
        hang_state_ = 1;
        note("silent after " + std::to_string(w < 0 ? 0 : w) + " bytes of line " + std::to_string(pending_line_));
        continue;
      }
    }
    if (pending_.empty()) continue;
    ssize_t w = ::send(conn_fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
    if (w > 0) {
      pending_.erase(0, static_cast<std::size_t>(w));
      if (pending_.empty()) ++written_;
    } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
      note(std::string("write failed: ") + std::strerror(errno));
      ::close(conn_fd_);
      conn_fd_ = -1;
      pending_.clear();
    }
  }
}

RedisProcess::RedisProcess(std::string dir) : dir_(std::move(dir)) {}

RedisProcess::~RedisProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool RedisProcess::start(std::string& error) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (port_ == 0) port_ = free_port();
  std::string port = std::to_string(port_), log = dir_ + "/redis.log";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", dir_.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "cannot run redis-server: %s\n", std::strerror(errno));
    ::_exit(127);
  }
  if (pid < 0) {
    error = std::string("fork failed: ") + std::strerror(errno);
    return false;
  }
  pid_ = pid;
  // Ready when PING answers PONG (a restarted server answers -LOADING while
  // it replays its append-only file).
  for (int i = 0; i < 400; ++i) {
    timeval tv{0, 200000};
    if (redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv); c && !c->err) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
      bool ready = r && r->type == REDIS_REPLY_STATUS && std::string(r->str, r->len) == "PONG";
      if (r) freeReplyObject(r);
      redisFree(c);
      if (ready) return true;
    } else if (c) {
      redisFree(c);
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      error = "redis-server exited at once (is it installed? ./dev.sh installs it; see " + log + ")";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  error = "redis-server did not answer PING on port " + port + " within 10 s (see " + log + ")";
  return false;
}

void RedisProcess::kill() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

RedisFeed::RedisFeed(PacedLines input, uint16_t port, std::string key)
    : in_(std::move(input)), port_(port), key_(std::move(key)) {
  thread_ = std::thread([this] { loop(); });
}

RedisFeed::~RedisFeed() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void RedisFeed::loop() {
  redisContext* c = nullptr;
  while (!stop_ && added_ < static_cast<int64_t>(in_.lines.size())) {
    if (added_ >= in_.released(wall_ms())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    if (!c) {
      timeval tv{0, 300000};
      c = redisConnectWithTimeout("127.0.0.1", port_, tv);
      if (!c || c->err) {
        if (c) redisFree(c);
        c = nullptr;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      redisSetTimeout(c, tv);
    }
    int64_t i = added_;
    const std::string& line = in_.lines[static_cast<std::size_t>(i)];
    std::string id = std::to_string(i + 1) + "-0";
    auto* r = static_cast<redisReply*>(
        redisCommand(c, "XADD %s %s line %b", key_.c_str(), id.c_str(), line.data(), line.size()));
    if (!r) {  // the connection broke: the entry may or may not be there; its ID decides
      redisFree(c);
      c = nullptr;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    bool ok = r->type == REDIS_REPLY_STRING ||
              (r->type == REDIS_REPLY_ERROR && std::string(r->str, r->len).find("equal or smaller") != std::string::npos);
    bool loading = r->type == REDIS_REPLY_ERROR && std::string(r->str, r->len).rfind("LOADING", 0) == 0;
    if (!ok && !loading) spdlog::warn("XADD {} {}: {}", key_, id, std::string(r->str, r->len));
    freeReplyObject(r);
    if (ok)
      ++added_;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (c) redisFree(c);
}

}  // namespace trib::chaos
