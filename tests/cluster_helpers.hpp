// Helpers of the multi-process tests (test_cluster, test_security): the
// cluster job, a log file a child process writes, a single-process reference
// run and a coordinator with two workers.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <functional>
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

// A coordinator and two workers of `program`, each run with args(dir) plus
// its extra flags; `worker_env[i]` is added to worker i's environment. The
// coordinator waits for both before its first batch.
struct ThreeProcesses {
  using Args = std::function<std::vector<std::string>(const std::string& dir)>;

  ThreeProcesses(const std::string& program, const Args& args, const std::vector<std::string>& coordinator_extra,
                 const std::vector<std::string>& worker_extra,
                 std::vector<std::vector<std::string>> worker_env = {{}, {}})
      : coord_log(dir.path + "/coordinator.log"), w1_log(dir.path + "/w1.log"), w2_log(dir.path + "/w2.log") {
    uint16_t port = unused_port();
    coordinator = spawn_app(
        program, with(args(dir.path), with({"--listen", std::to_string(port), "--min-workers", "2"}, coordinator_extra)),
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

  // Waits for the coordinator to end the job cleanly; its log.
  std::string coordinator_log_after_exit() {
    int code = wait_exit(coordinator);
    BOOST_REQUIRE_MESSAGE(code == 0, coord_log.text());
    return coord_log.text();
  }

  TempDir dir;
  LogFile coord_log, w1_log, w2_log;
  pid_t coordinator, w1, w2;
};

}  // namespace testing
