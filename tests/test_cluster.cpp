// Several processes on loopback: a coordinator (--listen) and workers
// (--join) running checkpointed_wordcount. Stateless tasks run on the
// workers; one worker is SIGKILLed mid-stream and the output must equal a
// single-process run's, batch for batch.
#define BOOST_TEST_MODULE cluster
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <filesystem>
#include <thread>

#include "process.hpp"
#include "tcp_server.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> job(const std::string& dir, const std::string& mode) {
  return {"--mode", mode, "--checkpoint", dir + "/ckpt", "--output", dir + "/out",
          "--batch-ms", "100", "--lines-per-batch", "400", "--total-lines", "8000",
          "--stop-after", "24", "--log-level", "info"};
}

constexpr std::size_t kBatches = 24;  // --stop-after: later batches depend on timing

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// The batch directories' contents, oldest first.
std::vector<std::string> outputs(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> batches;
  for (auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("out-", 0) != 0 || name.find('.') != std::string::npos) continue;
    batches.emplace_back(std::stoll(name.substr(4)), testing::slurp(entry.path().string() + "/part-00000"));
  }
  std::sort(batches.begin(), batches.end());
  std::vector<std::string> texts;
  for (auto& b : batches) texts.push_back(b.second);
  return texts;
}

struct LogFile {
  explicit LogFile(std::string p) : path(std::move(p)) {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  ~LogFile() { ::close(fd); }
  std::string text() const { return testing::slurp(path); }
  std::string path;
  int fd;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_worker_killed_mid_stream_loses_nothing) {
  for (std::string mode : {"running", "windowed"}) {
    testing::TempDir clean, cluster;
    LogFile clean_log(clean.path + "/log");
    BOOST_REQUIRE_EQUAL(testing::wait_exit(testing::spawn_app("checkpointed_wordcount", job(clean.path, mode),
                                                              clean_log.fd, clean_log.fd)), 0);
    auto want = outputs(clean.path);
    BOOST_REQUIRE_GE(want.size(), mode == "running" ? kBatches : kBatches / 2);

    uint16_t port = testing::unused_port();
    LogFile coord_log(cluster.path + "/coordinator.log"), w1_log(cluster.path + "/w1.log"),
        w2_log(cluster.path + "/w2.log");
    std::string join = "127.0.0.1:" + std::to_string(port);
    pid_t coordinator = testing::spawn_app(
        "checkpointed_wordcount", with(job(cluster.path, mode), {"--listen", std::to_string(port)}),
        coord_log.fd, coord_log.fd);
    // Workers get the same arguments: the output directory stands for a
    // file system every node shares, as Spark's executors write to HDFS.
    pid_t w1 = testing::spawn_app("checkpointed_wordcount", with(job(cluster.path, mode), {"--join", join}),
                                  w1_log.fd, w1_log.fd);
    pid_t w2 = testing::spawn_app("checkpointed_wordcount", with(job(cluster.path, mode), {"--join", join}),
                                  w2_log.fd, w2_log.fd);
    // Wait until both workers joined, then kill one while batches run.
    for (int i = 0; i < 500 && coord_log.text().find("2 workers") == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    BOOST_REQUIRE_MESSAGE(coord_log.text().find("joined; 2 workers") != std::string::npos, coord_log.text());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::kill(w1, SIGKILL);
    BOOST_TEST(testing::wait_exit(w1) == 128 + SIGKILL);
    int code = testing::wait_exit(coordinator);
    BOOST_REQUIRE_MESSAGE(code == 0, coord_log.text());
    BOOST_TEST(testing::wait_exit(w2) == 0, "the surviving worker stops when the coordinator is done");
    BOOST_TEST(coord_log.text().find("lost a worker") != std::string::npos, coord_log.text());
    auto got = outputs(cluster.path);
    std::size_t compared = mode == "running" ? kBatches : kBatches / 2;  // windows slide by 2
    BOOST_REQUIRE_GE(got.size(), compared);
    for (std::size_t i = 0; i < compared; ++i)
      BOOST_TEST(got[i] == want[i], mode << " batch " << i << " differs from the single-process run");
  }
}

BOOST_AUTO_TEST_CASE(a_worker_of_another_pipeline_is_refused) {
  testing::TempDir dir;
  uint16_t port = testing::unused_port();
  LogFile coord_log(dir.path + "/coordinator.log"), w_log(dir.path + "/w.log");
  pid_t coordinator = testing::spawn_app(
      "checkpointed_wordcount", with(job(dir.path, "running"), {"--listen", std::to_string(port)}),
      coord_log.fd, coord_log.fd);
  auto worker = job(dir.path + "/w", "windowed");  // not the coordinator's pipeline
  int code = testing::wait_exit(testing::spawn_app(
      "checkpointed_wordcount", with(worker, {"--join", "127.0.0.1:" + std::to_string(port)}), w_log.fd, w_log.fd));
  BOOST_TEST(code == 1);
  BOOST_TEST(w_log.text().find("the worker runs a different pipeline") != std::string::npos, w_log.text());
  BOOST_TEST(testing::wait_exit(coordinator) == 0);
}

BOOST_AUTO_TEST_CASE(an_unreachable_coordinator_and_a_port_in_use_are_clear_errors) {
  testing::TempDir dir;
  uint16_t nobody = testing::unused_port();
  auto r = testing::run_app("checkpointed_wordcount",
                            with(job(dir.path, "running"),
                                 {"--join", "127.0.0.1:" + std::to_string(nobody), "--join-timeout", "1"}));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("cannot reach the coordinator at 127.0.0.1:" + std::to_string(nobody)) != std::string::npos, r.err);

  testing::TcpServer taken;  // something already listens on this port
  auto busy = testing::run_app("checkpointed_wordcount",
                               with(job(dir.path, "running"), {"--listen", std::to_string(taken.port())}));
  BOOST_TEST(busy.exit_code == 1);
  BOOST_TEST(busy.err.find("cannot listen for workers on port " + std::to_string(taken.port())) != std::string::npos,
             busy.err);
}

BOOST_AUTO_TEST_CASE(a_restarted_coordinator_resumes_and_the_workers_rejoin) {
  std::string mode = "running";
  testing::TempDir clean, cluster;
  LogFile clean_log(clean.path + "/log");
  BOOST_REQUIRE_EQUAL(testing::wait_exit(testing::spawn_app("checkpointed_wordcount", job(clean.path, mode),
                                                            clean_log.fd, clean_log.fd)), 0);
  auto want = outputs(clean.path);

  uint16_t port = testing::unused_port();
  std::string join = "127.0.0.1:" + std::to_string(port);
  LogFile coord_log(cluster.path + "/coordinator.log"), w_log(cluster.path + "/w.log");
  auto coordinator_args = with(job(cluster.path, mode), {"--listen", std::to_string(port)});
  pid_t coordinator = testing::spawn_app("checkpointed_wordcount", coordinator_args, coord_log.fd, coord_log.fd);
  pid_t worker = testing::spawn_app("checkpointed_wordcount",
                                    with(job(cluster.path, mode), {"--join", join, "--join-timeout", "10"}),
                                    w_log.fd, w_log.fd);
  for (int i = 0; i < 500 && coord_log.text().find("1 workers") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_REQUIRE_MESSAGE(coord_log.text().find("joined; 1 workers") != std::string::npos, coord_log.text());
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  ::kill(coordinator, SIGKILL);
  BOOST_TEST(testing::wait_exit(coordinator) == 128 + SIGKILL);
  // The same command again: it resumes from the checkpoint; the worker rejoins.
  coordinator = testing::spawn_app("checkpointed_wordcount", coordinator_args, coord_log.fd, coord_log.fd);
  BOOST_REQUIRE_MESSAGE(testing::wait_exit(coordinator) == 0, coord_log.text());
  BOOST_TEST(testing::wait_exit(worker) == 0, w_log.text());
  BOOST_TEST(coord_log.text().find("recovered from checkpoint") != std::string::npos, coord_log.text());
  BOOST_TEST(w_log.text().find("trying to rejoin") != std::string::npos, w_log.text());
  auto got = outputs(cluster.path);
  BOOST_REQUIRE_GE(want.size(), kBatches);
  BOOST_REQUIRE_GE(got.size(), kBatches);
  for (std::size_t i = 0; i < kBatches; ++i)
    BOOST_TEST(got[i] == want[i], "batch " << i << " differs from the single-process run");
}
