// Helpers of the multi-process tests (test_cluster, test_security): the
// cluster job, a log file a child process writes, a single-process reference
// run and a coordinator with two workers.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "process.hpp"
#include "tcp_server.hpp"
#include "temp_dir.hpp"
#include "wordcount_job.hpp"

namespace testing {

// 100 ms batches of 400 lines: 20 batches of data, 24 compared.
inline WordcountJob cluster_job() {
  WordcountJob job;
  job.batch_ms = 100;
  job.lines_per_batch = 400;
  job.total_lines = 8000;
  job.batches = 24;
  return job;
}

inline std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

struct LogFile {
  explicit LogFile(std::string p) : path(std::move(p)) {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  ~LogFile() { ::close(fd); }
  std::string text() const { return slurp(path); }
  bool has(const std::string& what) const { return text().find(what) != std::string::npos; }
  // Waits up to 10 s for `what` to appear.
  bool wait_for(const std::string& what) const {
    for (int i = 0; i < 1000 && !has(what); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return has(what);
  }
  std::string path;
  int fd;
};

// The job events a coordinator wrote with --events FILE, one JSON object per
// line (dstream/core/job_events.hpp). Tests assert on these, not on log text.
struct EventLog {
  explicit EventLog(std::string p) : path(std::move(p)) {}

  // Lines of event `kind` whose fields include each of `fields`
  // ({"worker", "worker-1"} matches "worker":"worker-1").
  std::vector<std::string> find(const std::string& kind,
                                const std::vector<std::pair<std::string, std::string>>& fields = {}) const {
    std::vector<std::string> found;
    std::istringstream lines(slurp(path));
    for (std::string line; std::getline(lines, line);) {
      if (line.find("{\"event\":\"" + kind + "\"") != 0) continue;
      bool all = true;
      for (auto& [name, value] : fields)
        all = all && line.find("\"" + name + "\":\"" + value + "\"") != std::string::npos;
      if (all) found.push_back(line);
    }
    return found;
  }
  bool has(const std::string& kind, const std::vector<std::pair<std::string, std::string>>& fields = {}) const {
    return !find(kind, fields).empty();
  }
  // Waits up to 10 s for such an event.
  bool wait_for(const std::string& kind, const std::vector<std::pair<std::string, std::string>>& fields = {}) const {
    for (int i = 0; i < 1000 && !has(kind, fields); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return has(kind, fields);
  }
  // A numeric field of one event line; -1 if absent.
  static int64_t number(const std::string& line, const std::string& name) {
    auto at = line.find("\"" + name + "\":");
    if (at == std::string::npos) return -1;
    return std::stoll(line.substr(at + name.size() + 3));
  }
  static std::string text(const std::string& line, const std::string& name) {
    auto at = line.find("\"" + name + "\":\"");
    if (at == std::string::npos) return {};
    at += name.size() + 4;
    return line.substr(at, line.find('"', at) - at);
  }
  std::string all() const { return slurp(path); }
  std::string path;
};

// A single-process run of the job: the reference a cluster run must equal.
inline std::vector<std::pair<int64_t, std::string>> reference_run(const WordcountJob& job,
                                                           const std::string& mode,
                                                           const std::vector<std::string>& extra) {
  TempDir dir;
  LogFile log(dir.path + "/log");
  int code = wait_exit(
      spawn_app("checkpointed_wordcount", with(job.args(mode, dir.path), extra), log.fd, log.fd));
  BOOST_REQUIRE_MESSAGE(code == 0, log.text());
  auto out = read_output(dir.path);
  BOOST_TEST_CONTEXT("the single-process run") { job.check_against_oracle(mode, out); }
  BOOST_REQUIRE_GE(out.size(), job.compared(mode));
  return out;
}

inline void check_equal(const WordcountJob& job, const std::string& mode,
                 const std::vector<std::pair<int64_t, std::string>>& got,
                 const std::vector<std::pair<int64_t, std::string>>& want) {
  BOOST_TEST_CONTEXT("the cluster run") { job.check_against_oracle(mode, got); }
  BOOST_REQUIRE_GE(got.size(), job.compared(mode));
  for (std::size_t i = 0; i < job.compared(mode); ++i)
    BOOST_TEST(got[i].second == want[i].second, mode << " batch " << i << " differs from the single-process run");
}

// Waits for a worker that should stop cleanly once its coordinator is done.
// A failure gives its exit code and log: a worker once exited non-zero under
// AddressSanitizer with nothing else to go on.
inline void expect_clean_exit(pid_t worker, const std::string& name, const LogFile& log) {
  int code = wait_exit(worker);
  BOOST_TEST(code == 0, name << " exited " << code << "; its log:\n" << log.text());
}

// A coordinator and two workers of `program`, each run with args(dir) plus
// its extra flags; `worker_env[i]` is added to worker i's environment. The
// coordinator waits for both before its first batch.
struct ThreeProcesses {
  using Args = std::function<std::vector<std::string>(const std::string& dir)>;

  ThreeProcesses(const std::string& program, const Args& args, const std::vector<std::string>& coordinator_extra,
                 const std::vector<std::string>& worker_extra,
                 std::vector<std::vector<std::string>> worker_env = {{}, {}})
      : coord_log(dir.path + "/coordinator.log"),
        w1_log(dir.path + "/w1.log"),
        w2_log(dir.path + "/w2.log"),
        events(dir.path + "/events.jsonl") {
    port = unused_port();
    coordinator = spawn_app(program,
                            with(args(dir.path), with({"--listen", std::to_string(port), "--min-workers", "2",
                                                       "--events", events.path},
                                                      coordinator_extra)),
                            coord_log.fd, coord_log.fd);
    // Workers get the same arguments: the output and checkpoint directories
    // stand for a file system every node shares, as Spark's executors use HDFS.
    auto worker_args = with(args(dir.path), with({"--join", "127.0.0.1:" + std::to_string(port)}, worker_extra));
    w1 = spawn_app(program, worker_args, w1_log.fd, w1_log.fd, worker_env[0]);
    w2 = spawn_app(program, worker_args, w2_log.fd, w2_log.fd, worker_env[1]);
  }

  // checkpointed_wordcount running `job` in `mode`.
  ThreeProcesses(const WordcountJob& job, const std::string& mode,
                 const std::vector<std::string>& coordinator_extra, const std::vector<std::string>& worker_extra,
                 std::vector<std::vector<std::string>> worker_env = {{}, {}})
      : ThreeProcesses(
            "checkpointed_wordcount", [&](const std::string& dir) { return job.args(mode, dir, "info"); },
            coordinator_extra, worker_extra, std::move(worker_env)) {}

  // Waits for the coordinator to end the job cleanly (exit 0); its log.
  std::string coordinator_log_after_exit() {
    int code = wait_exit(coordinator);
    BOOST_REQUIRE_MESSAGE(code == 0, coord_log.text());
    return coord_log.text();
  }

  // Both workers joined and the first batch may start.
  bool started() const { return events.wait_for("workers_ready") && EventLog::number(events.find("workers_ready")[0], "workers") == 2; }

  TempDir dir;
  LogFile coord_log, w1_log, w2_log;
  EventLog events;
  pid_t coordinator, w1, w2;
  uint16_t port;  // the coordinator's --listen
};

}  // namespace testing
