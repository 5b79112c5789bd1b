// The replayable input tributary-chaos serves a job itself, so that source
// faults can be injected and every line checked: numbered lines derived
// from the seed ("L000042 kiwi plum kiwi"), released at a steady pace over
// the first part of the run, either
//   - by LineServer, a TCP server the job's socketTextStream reads
//     ({socket} in the job's command), or
//   - into a Redis stream of a redis-server the runner starts
//     ({redis_port}; RedisFeed and RedisProcess).
//
// Exactly once across a socket needs care, since a receiver acknowledges
// nothing. LineServer resumes a new connection from
//   - the line after the last one it wrote whole, when the same job process
//     (the coordinator, where receivers run) connects again: that process
//     read every byte up to a close the server made (FIN after a whole line)
//     or up to the unfinished line it dropped at its idle timeout while the
//     server was silent, and logs what it read before it buffers it;
//   - the end of the job's write-ahead log otherwise (the process that read
//     the lines died; lines it read but had not logged were lost with it and
//     are sent again; the log's records are the lines in order, so its end
//     is the number of lines accepted). The new process has opened its log
//     before its receiver connects, and the old one is dead, so the end is
//     final.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace trib::chaos {

// Line i of the input of `seed`: "L%06d" then 2-6 words of a small vocabulary.
std::string source_line(uint64_t seed, int64_t i);
std::vector<std::string> source_lines(uint64_t seed, int64_t n);
// Word counts of the lines (split on spaces), the oracle of a running count.
std::map<std::string, int64_t> word_counts(const std::vector<std::string>& lines);

// The number of records in the write-ahead log of the only receiver stream
// under `checkpoint_dir` (wal-S-FIRST.log segments); -1 with `error` set if
// there is none or more than one stream.
int64_t wal_end(const std::string& checkpoint_dir, std::string& error);

struct PacedLines {
  std::vector<std::string> lines;
  int64_t start_wall_ms = 0;  // line i may go out from start + i * spread / n
  int64_t spread_ms = 1;
  int64_t released(int64_t now_wall_ms) const;  // how many lines may be out by now
};

class LineServer {
 public:
  // `receiver_pid`: the pid of the process whose receiver connects (0 if
  // none runs); `checkpoint_dir`: where its write-ahead log is.
  LineServer(PacedLines input, std::function<pid_t()> receiver_pid, std::string checkpoint_dir);
  ~LineServer();
  LineServer(const LineServer&) = delete;
  LineServer& operator=(const LineServer&) = delete;

  uint16_t port() const { return port_; }

  // Faults: close the connection after the line being written (FIN); go
  // silent in the middle of the next line until the receiver reconnects.
  void close_connection() { close_requested_ = true; }
  void hang() { hang_requested_ = true; }
  bool hang_pending() const { return hang_requested_ || hang_state_ != 0; }
  void unhang() {  // the bound passed without a reconnect: go on on this connection
    hang_requested_ = false;
    hang_state_ = 0;
  }

  // What happened, for the run's timeline: (wall ms, text).
  std::vector<std::pair<int64_t, std::string>> take_events();
  int64_t lines_written() const { return written_; }
  std::string error() const;  // a broken protocol (the log's records are not the lines)

 private:
  void loop();
  void accept_one(int fd);
  void note(const std::string& text);

  PacedLines in_;
  std::function<pid_t()> receiver_pid_;
  std::string checkpoint_dir_;
  uint16_t port_ = 0;
  int listen_fd_ = -1, conn_fd_ = -1;
  pid_t conn_pid_ = 0;            // the receiver's process when the connection came
  std::atomic<int64_t> written_{0};  // lines written whole on any connection: the next to send
  std::string pending_;           // the rest of a line being written
  int64_t pending_line_ = -1;
  std::atomic<bool> close_requested_{false}, hang_requested_{false}, stop_{false};
  std::atomic<int> hang_state_{0};  // 1: silent mid-line on this connection
  mutable std::mutex mutex_;
  std::vector<std::pair<int64_t, std::string>> events_;
  std::string error_;
  std::thread thread_;
};

// A redis-server child on a free loopback port with its data (append-only,
// fsynced at every write) in `dir`, so a SIGKILL loses no acknowledged write.
// The runner reaps it: it tells exited() when waitpid returns its pid.
class RedisProcess {
 public:
  explicit RedisProcess(std::string dir);
  ~RedisProcess();
  bool start(std::string& error);  // waits until PING answers PONG
  void kill();                     // SIGKILL (the caller reaps)
  void exited() { pid_ = 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = 0;
};

// Adds the paced lines to stream `key` (field "line") with IDs i+1-1, so a
// write retried after the server went down is never added twice; waits and
// retries while the server is down.
class RedisFeed {
 public:
  RedisFeed(PacedLines input, uint16_t port, std::string key);
  ~RedisFeed();
  int64_t added() const { return added_; }

 private:
  void loop();
  PacedLines in_;
  uint16_t port_;
  std::string key_;
  std::atomic<int64_t> added_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace trib::chaos
