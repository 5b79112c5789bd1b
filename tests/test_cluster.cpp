// Several processes on loopback: a coordinator (--listen) and workers
// (--join) running checkpointed_wordcount. Reduce tasks and state partitions
// run on the workers, map tasks on the coordinator while it has a free slot
// (or on the workers: --coordinator-map-slots); workers are SIGKILLed, frozen
// (SIGSTOP) and slowed down mid-stream, the coordinator is killed and
// restarted, and every batch's output must equal a single-process run's and
// a plain count.
#define BOOST_TEST_MODULE cluster
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <regex>
#include <thread>

#include "io/generator_receiver.hpp"
#include "cluster_helpers.hpp"

namespace fs = std::filesystem;

using namespace testing;

namespace {

bool has_state_file_of_a_worker(const std::string& checkpoint_dir) {
  for (auto& entry : fs::directory_iterator(checkpoint_dir)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("state-", 0) == 0 && name.find("-worker-") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_worker_killed_mid_stream_loses_nothing) {
  auto job = cluster_job();
  // running: state partitions on the workers, a checkpoint every 10 batches
  // (the worker dies before the second, so every batch so far is replayed on
  // the restored state); incremental: window state in executors, a
  // checkpoint every batch; windowed: stateless tasks only. Map slots "1":
  // of each shuffle's two map tasks, one runs on the coordinator (its
  // buckets come back with its result) and the other on a worker (kept
  // there, fetched by the reduce tasks); "-1": both on the coordinator.
  std::vector<std::pair<std::string, std::string>> runs = {
      {"running", "-1"}, {"incremental", "-1"}, {"windowed", "-1"}, {"windowed", "1"}, {"running", "1"}};
  for (auto& [mode, map_slots] : runs) {
    BOOST_TEST_CONTEXT(mode << ", coordinator map slots " << map_slots) {
      std::vector<std::string> extra = {"--checkpoint-every", mode == "running" ? "10" : "1"};
      auto want = reference_run(job, mode, extra);
      ThreeProcesses c(job, mode, with(extra, {"--coordinator-map-slots", map_slots}), {});
      BOOST_REQUIRE_MESSAGE(c.started(), c.coord_log.text());
      std::this_thread::sleep_for(std::chrono::milliseconds(350));  // a few batches run
      ::kill(c.w1, SIGKILL);
      BOOST_TEST(testing::wait_exit(c.w1) == 128 + SIGKILL);
      c.coordinator_log_after_exit();
      expect_clean_exit(c.w2, "the surviving worker", c.w2_log);
      auto lost = c.events.find("worker_lost");
      BOOST_REQUIRE_MESSAGE(lost.size() == 1u, c.events.all());
      if (mode != "windowed") {
        // Each worker held a state partition; the lost one's were rebuilt.
        BOOST_TEST(c.events.has("partition_placed", {{"worker", "worker-1"}}), c.events.all());
        BOOST_TEST(c.events.has("partition_placed", {{"worker", "worker-2"}}), c.events.all());
        BOOST_TEST(EventLog::number(lost[0], "partitions") >= 1, lost[0]);
        BOOST_TEST(has_state_file_of_a_worker(c.dir.path + "/ckpt"), "workers write their own state snapshots");
      }
      check_equal(job, mode, testing::read_output(c.dir.path), want);
    }
  }
}

BOOST_AUTO_TEST_CASE(shuffle_blocks_lost_with_their_worker_are_computed_again) {
  auto job = cluster_job();
  std::string mode = "windowed";
  auto want = reference_run(job, mode, {});
  // Worker 1 dies as it starts its third reduce task: the shuffle being
  // reduced has map outputs on both workers (the coordinator runs no map
  // task itself here, so they alternate between the workers), so the blocks
  // worker 2 must fetch from worker 1 are gone.
  ThreeProcesses c(job, mode, {"--coordinator-map-slots", "0"}, {}, {{"TRIB_CRASH_AT=reduce-task:3"}, {}});
  BOOST_TEST(testing::wait_exit(c.w1) == 128 + SIGKILL);
  c.coordinator_log_after_exit();
  expect_clean_exit(c.w2, "worker 2", c.w2_log);
  auto redone = c.events.find("shuffle_blocks_lost");
  BOOST_REQUIRE_MESSAGE(!redone.empty(), c.events.all());
  BOOST_TEST(EventLog::number(redone[0], "tasks") >= 1, redone[0]);
  check_equal(job, mode, testing::read_output(c.dir.path), want);
}

// dedup_operator: a custom CAF actor per partition keeps the ids seen so
// far; each batch writes the events whose id is new, sorted.
BOOST_AUTO_TEST_CASE(custom_actor_operators_run_on_workers_and_survive_losing_one) {
  const int lines_per_batch = 60, total_lines = 1500, batches = 30;
  auto args = [&](const std::string& dir) {
    return std::vector<std::string>{"--lines-per-batch", std::to_string(lines_per_batch), "--total-lines",
                                    std::to_string(total_lines), "--stop-after", std::to_string(batches),
                                    "--duration", "0", "--batch-ms", "100", "--checkpoint", dir + "/ckpt",
                                    "--output", dir + "/out", "--log-level", "info"};
  };
  // The plain computation: per batch, the first event of every id never seen before.
  trib::GeneratorOptions gen;
  gen.words_per_line = 2;
  gen.vocabulary = 500;
  std::set<std::string> seen;
  std::vector<std::string> expected;
  for (int k = 0; k < batches; ++k) {
    std::vector<std::string> fresh;
    for (int i = k * lines_per_batch; i < std::min((k + 1) * lines_per_batch, total_lines); ++i) {
      std::string line = trib::generated_line(gen, i);
      if (seen.insert(line.substr(0, line.find(' '))).second) fresh.push_back(line);
    }
    std::sort(fresh.begin(), fresh.end());
    std::string text;
    for (auto& f : fresh) text += f + "\n";
    expected.push_back(text);
  }
  auto check = [&](const std::vector<std::pair<int64_t, std::string>>& out, const std::string& run) {
    BOOST_REQUIRE_GE(out.size(), expected.size());
    for (std::size_t k = 0; k < expected.size(); ++k)
      BOOST_TEST(out[k].second == expected[k], run << " batch " << k);
  };

  testing::TempDir single;
  LogFile single_log(single.path + "/log");
  BOOST_REQUIRE_EQUAL(testing::wait_exit(testing::spawn_app("dedup_operator", args(single.path), single_log.fd,
                                                            single_log.fd)), 0);
  check(testing::read_output(single.path), "single-process run");

  ThreeProcesses c("dedup_operator", args, {}, {});
  BOOST_REQUIRE_MESSAGE(c.started(), c.coord_log.text());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(c.w1, SIGKILL);
  testing::wait_exit(c.w1);
  c.coordinator_log_after_exit();
  expect_clean_exit(c.w2, "worker 2", c.w2_log);
  bool on_a_worker = c.events.has("partition_placed", {{"node_name", "actorOperator"}, {"worker", "worker-1"}}) ||
                     c.events.has("partition_placed", {{"node_name", "actorOperator"}, {"worker", "worker-2"}});
  BOOST_TEST(on_a_worker, c.events.all());
  auto lost = c.events.find("worker_lost");
  BOOST_REQUIRE_MESSAGE(lost.size() == 1u, c.events.all());
  BOOST_TEST(EventLog::number(lost[0], "partitions") >= 1, lost[0]);
  check(testing::read_output(c.dir.path), "cluster run");
}

// Event-time windows (sensor_temperature --event-time): the windows' state
// partitions, watermark included, live on the workers; one worker is
// SIGKILLed mid-stream and its partitions are restored elsewhere from the
// checkpoint and replayed. Every batch equals the single-process run.
BOOST_AUTO_TEST_CASE(event_time_windows_run_on_workers_and_survive_losing_one) {
  const int batches = 30;
  auto args = [&](const std::string& dir) {
    return std::vector<std::string>{
        "--event-time", "--checkpoint", dir + "/ckpt", "--output", dir + "/out", "--batch-ms", "100",
        "--readings-per-batch", "100", "--step-ms", "20", "--window", "1", "--max-delay-ms", "300",
        "--disorder-ms", "300", "--late-every", "37", "--late-by-ms", "5000", "--lateness-ms", "200",
        "--total-readings", "3000", "--stop-after", std::to_string(batches), "--duration", "0",
        "--log-level", "info"};
  };
  testing::TempDir single;
  LogFile single_log(single.path + "/log");
  BOOST_REQUIRE_EQUAL(testing::wait_exit(testing::spawn_app("sensor_temperature", args(single.path), single_log.fd,
                                                            single_log.fd)), 0);
  auto want = testing::read_output(single.path);
  BOOST_REQUIRE_GE(want.size(), static_cast<std::size_t>(batches));
  std::size_t rows = 0;
  for (auto& [t, text] : want) rows += static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  BOOST_REQUIRE_GE(rows, 100u);

  ThreeProcesses c("sensor_temperature", args, {}, {});
  BOOST_REQUIRE_MESSAGE(c.started(), c.coord_log.text());
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  ::kill(c.w1, SIGKILL);
  testing::wait_exit(c.w1);
  c.coordinator_log_after_exit();
  expect_clean_exit(c.w2, "worker 2", c.w2_log);
  bool on_a_worker = false;
  for (auto& line : c.events.find("partition_placed"))
    on_a_worker = on_a_worker || (line.find("eventWindow") != std::string::npos &&
                                  line.find("\"worker\":\"worker-") != std::string::npos);
  BOOST_TEST(on_a_worker, c.events.all());
  auto lost = c.events.find("worker_lost");
  BOOST_REQUIRE_MESSAGE(lost.size() == 1u, c.events.all());
  BOOST_TEST(EventLog::number(lost[0], "partitions") >= 1, lost[0]);
  auto got = testing::read_output(c.dir.path);
  BOOST_REQUIRE_GE(got.size(), static_cast<std::size_t>(batches));
  for (int k = 0; k < batches; ++k)
    BOOST_TEST(got[k].second == want[k].second, "batch " << k << " differs from the single-process run");
}

BOOST_AUTO_TEST_CASE(a_worker_that_joins_later_takes_over_state_partitions) {
  auto job = cluster_job();
  std::string mode = "running";
  auto want = reference_run(job, mode, {});
  testing::TempDir dir;
  uint16_t port = testing::unused_port();
  LogFile coord_log(dir.path + "/coordinator.log"), w1_log(dir.path + "/w1.log"), w2_log(dir.path + "/w2.log");
  EventLog events(dir.path + "/events.jsonl");
  auto args = job.args(mode, dir.path, "info");
  auto worker_args = with(args, {"--join", "127.0.0.1:" + std::to_string(port)});
  pid_t coordinator = testing::spawn_app(
      "checkpointed_wordcount",
      with(args, {"--listen", std::to_string(port), "--min-workers", "1", "--events", events.path}), coord_log.fd,
      coord_log.fd);
  pid_t w1 = testing::spawn_app("checkpointed_wordcount", worker_args, w1_log.fd, w1_log.fd);
  BOOST_REQUIRE_MESSAGE(events.wait_for("workers_ready"), coord_log.text());
  BOOST_REQUIRE_MESSAGE(events.wait_for("partition_placed", {{"worker", "worker-1"}}), events.all());
  // Worker 2 joins a running job: at the next checkpoint it takes half of
  // worker 1's state partitions; then worker 1 dies and worker 2 has all.
  pid_t w2 = testing::spawn_app("checkpointed_wordcount", worker_args, w2_log.fd, w2_log.fd);
  BOOST_REQUIRE_MESSAGE(events.wait_for("partition_moved", {{"from", "worker-1"}, {"worker", "worker-2"}}),
                        events.all());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(w1, SIGKILL);
  testing::wait_exit(w1);
  int code = testing::wait_exit(coordinator);
  BOOST_REQUIRE_MESSAGE(code == 0, coord_log.text());
  BOOST_TEST(testing::wait_exit(w2) == 0);
  auto lost = events.find("worker_lost");
  BOOST_REQUIRE_MESSAGE(lost.size() == 1u, events.all());
  BOOST_TEST(EventLog::number(lost[0], "partitions") == 1, lost[0]);
  check_equal(job, mode, testing::read_output(dir.path), want);
}

BOOST_AUTO_TEST_CASE(a_frozen_worker_is_given_up_on_and_its_state_moves) {
  auto job = cluster_job();
  std::string mode = "running";
  auto want = reference_run(job, mode, {});
  ThreeProcesses c(job, mode, {"--worker-timeout-ms", "1500"}, {"--join-timeout", "2"});
  BOOST_REQUIRE_MESSAGE(c.started(), c.coord_log.text());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Hung, not dead: its connection stays open; the coordinator's heartbeats
  // or the state task's timeout tell (CAF's own connection timeout is set
  // well after both, as a backstop).
  ::kill(c.w1, SIGSTOP);
  c.coordinator_log_after_exit();
  ::kill(c.w1, SIGKILL);
  ::kill(c.w1, SIGCONT);
  testing::wait_exit(c.w1);
  expect_clean_exit(c.w2, "worker 2", c.w2_log);
  auto lost = c.events.find("worker_lost");
  BOOST_REQUIRE_MESSAGE(lost.size() == 1u, c.events.all());
  BOOST_TEST(std::regex_match(EventLog::text(lost[0], "reason"),
                              std::regex("no heartbeat for 1500 ms|a task of state partition . ran longer than 1500 ms")),
             lost[0]);
  check_equal(job, mode, testing::read_output(c.dir.path), want);
}

BOOST_AUTO_TEST_CASE(a_hung_worker_is_given_up_on_after_a_timeout_scaled_to_the_batches_and_told_so) {
  auto job = cluster_job();
  job.batches = 60;  // 6 s of 100 ms batches: the worker wakes while the job runs
  std::string mode = "running";
  auto want = reference_run(job, mode, {});
  ThreeProcesses c(job, mode, {}, {});  // default worker timeout: max(1 s, 10 batches) = 1 s
  BOOST_REQUIRE_MESSAGE(c.started(), c.coord_log.text());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(c.w1, SIGSTOP);
  BOOST_REQUIRE_MESSAGE(c.events.wait_for("worker_lost"), c.coord_log.text());
  ::kill(c.w1, SIGCONT);
  c.coordinator_log_after_exit();
  std::string why = "(no heartbeat for 1000 ms|a task of state partition . ran longer than 1000 ms)";
  auto lost = c.events.find("worker_lost");
  BOOST_REQUIRE_MESSAGE(lost.size() == 1u, c.events.all());
  BOOST_TEST(std::regex_match(EventLog::text(lost[0], "reason"), std::regex(why)), lost[0]);
  // Woken, it learns the truth and rejoins as a new worker (a new process
  // under the same one), which runs to the job's end.
  BOOST_TEST(testing::wait_exit(c.w1) == 0, c.w1_log.text());
  BOOST_TEST(std::regex_search(c.w1_log.text(), std::regex("gave up on this worker \\(" + why + "\\)")),
             c.w1_log.text());
  BOOST_TEST(c.w1_log.has("rejoining the job as a new worker process"), c.w1_log.text());
  BOOST_TEST(c.events.has("worker_joined", {{"worker", "worker-3"}}), c.events.all());
  expect_clean_exit(c.w2, "worker 2", c.w2_log);
  check_equal(job, mode, testing::read_output(c.dir.path), want);
}

// Issue #12: with default settings, a job of 100 ms batches on a coordinator
// and two workers publishes no gap longer than 2 s while one worker is
// SIGSTOPped for 8 s, and its output equals a single-process run. The
// publication times are the batch directories' change times (when each was
// renamed into place), not log lines.
BOOST_AUTO_TEST_CASE(a_worker_frozen_for_8_s_stalls_no_batch_longer_than_2_s) {
  auto job = cluster_job();
  job.batches = 120;  // 12 s of 100 ms batches: the freeze (0.5-8.5 s after the start) lies inside
  job.total_lines = job.lines_per_batch * job.batches;
  std::string mode = "running";
  auto want = reference_run(job, mode, {});
  ThreeProcesses c(job, mode, {}, {});  // default flags
  BOOST_REQUIRE_MESSAGE(c.started(), c.coord_log.text());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(c.w1, SIGSTOP);
  std::this_thread::sleep_for(std::chrono::seconds(8));
  ::kill(c.w1, SIGCONT);
  c.coordinator_log_after_exit();
  // Woken after its connection was dropped (its eviction message lost with
  // it), it is refused from the same process and rejoins as a new one.
  expect_clean_exit(c.w1, "worker 1", c.w1_log);
  expect_clean_exit(c.w2, "worker 2", c.w2_log);
  BOOST_TEST(c.events.find("worker_lost").size() == 1u, c.events.all());
  BOOST_TEST(c.events.has("worker_joined", {{"worker", "worker-3"}}), c.events.all());
  std::vector<int64_t> published;  // ns
  for (auto& entry : fs::directory_iterator(c.dir.path)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("out-", 0) != 0 || name.find('.') != std::string::npos) continue;
    struct stat st {};
    BOOST_REQUIRE(::stat(entry.path().c_str(), &st) == 0);
    published.push_back(static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec);
  }
  std::sort(published.begin(), published.end());
  BOOST_REQUIRE_GE(published.size(), static_cast<std::size_t>(job.batches));
  int64_t worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 1; i < published.size(); ++i)
    if (published[i] - published[i - 1] > worst) {
      worst = published[i] - published[i - 1];
      at = i;
    }
  BOOST_TEST_MESSAGE("longest gap between published batches: " << worst / 1000000 << " ms, before batch " << at);
  BOOST_TEST(worst <= int64_t{2000000000}, "a gap of " << worst / 1000000 << " ms before batch " << at << " of "
                                                     << published.size() << "\n" << c.events.all());
  check_equal(job, mode, testing::read_output(c.dir.path), want);
}

BOOST_AUTO_TEST_CASE(a_slow_worker_gets_copies_of_its_tasks_run_elsewhere) {
  auto job = cluster_job();
  job.batches = 12;
  std::string mode = "windowed";
  auto want = reference_run(job, mode, {});
  // Every task on worker 1 takes 1.5 s; the other's take milliseconds.
  ThreeProcesses c(job, mode, {}, {}, {{"TRIB_DELAY_AT=task:1500"}, {}});
  c.coordinator_log_after_exit();
  testing::wait_exit(c.w1);
  testing::wait_exit(c.w2);
  BOOST_TEST(c.events.has("task_speculated"), c.events.all());
  check_equal(job, mode, testing::read_output(c.dir.path), want);
}

BOOST_AUTO_TEST_CASE(a_restarted_coordinator_resumes_and_the_workers_rejoin) {
  auto job = cluster_job();
  std::string mode = "running";
  auto want = reference_run(job, mode, {});

  testing::TempDir cluster;
  uint16_t port = testing::unused_port();
  std::string join = "127.0.0.1:" + std::to_string(port);
  LogFile coord_log(cluster.path + "/coordinator.log"), w_log(cluster.path + "/w.log");
  EventLog events(cluster.path + "/events.jsonl");
  auto coordinator_args = with(job.args(mode, cluster.path, "info"),
                               {"--listen", std::to_string(port), "--min-workers", "1", "--events", events.path});
  pid_t coordinator = testing::spawn_app("checkpointed_wordcount", coordinator_args, coord_log.fd, coord_log.fd);
  pid_t worker = testing::spawn_app("checkpointed_wordcount",
                                    with(job.args(mode, cluster.path, "info"), {"--join", join, "--join-timeout", "10"}),
                                    w_log.fd, w_log.fd);
  BOOST_REQUIRE_MESSAGE(events.wait_for("workers_ready"), coord_log.text());
  // Once a checkpoint holds the worker's state file (the worker holds every
  // state partition), and a little later, kill the coordinator.
  for (int i = 0; i < 1000 && !has_state_file_of_a_worker(cluster.path + "/ckpt"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_REQUIRE(has_state_file_of_a_worker(cluster.path + "/ckpt"));
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  ::kill(coordinator, SIGKILL);
  BOOST_TEST(testing::wait_exit(coordinator) == 128 + SIGKILL);
  // The same command again: it resumes from the checkpoint (the worker's
  // state files included); the worker rejoins and gets the state back.
  coordinator = testing::spawn_app("checkpointed_wordcount", coordinator_args, coord_log.fd, coord_log.fd);
  BOOST_REQUIRE_MESSAGE(testing::wait_exit(coordinator) == 0, coord_log.text());
  BOOST_TEST(testing::wait_exit(worker) == 0, w_log.text());
  std::string log = coord_log.text();
  auto recovered = events.find("recovered");
  BOOST_REQUIRE_MESSAGE(recovered.size() == 1u, events.all());
  BOOST_TEST(EventLog::number(recovered[0], "partitions") >= 1, recovered[0]);
  BOOST_TEST(events.find("workers_ready").size() == 2u, events.all());  // the worker rejoined the restarted one
  BOOST_TEST(w_log.has("trying to rejoin"), w_log.text());
  check_equal(job, mode, testing::read_output(cluster.path), want);
}

// A coordinator restarted after it lost a worker for good: --min-workers 2
// can no longer be met, and the job goes on with the worker it has after a
// short wait (max(5 s, the worker timeout)), not the first start's
// --min-workers-wait (60 s here).
BOOST_AUTO_TEST_CASE(a_restarted_coordinator_that_cannot_get_its_min_workers_starts_with_those_it_has) {
  auto job = cluster_job();
  job.total_lines = 12000;
  job.batches = 36;
  std::string mode = "running";
  testing::ThreeProcesses c(job, mode, {"--min-workers-wait", "60"}, {"--join-timeout", "60"});
  BOOST_REQUIRE_MESSAGE(c.started(), c.coord_log.text());
  for (int i = 0; i < 1000 && !has_state_file_of_a_worker(c.dir.path + "/ckpt"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(c.coordinator, SIGKILL);
  ::kill(c.w2, SIGKILL);
  BOOST_TEST(testing::wait_exit(c.coordinator) == 128 + SIGKILL);
  BOOST_TEST(testing::wait_exit(c.w2) == 128 + SIGKILL);
  auto restarted_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  pid_t coordinator = testing::spawn_app(
      "checkpointed_wordcount",
      with(job.args(mode, c.dir.path, "info"), {"--listen", std::to_string(c.port), "--min-workers", "2",
                                                "--min-workers-wait", "60", "--events", c.events.path}),
      c.coord_log.fd, c.coord_log.fd);
  BOOST_REQUIRE_MESSAGE(testing::wait_exit(coordinator) == 0, c.coord_log.text());
  BOOST_TEST(testing::wait_exit(c.w1) == 0, c.w1_log.text());
  auto ready = c.events.find("workers_ready");
  BOOST_REQUIRE_MESSAGE(ready.size() == 2u, c.events.all());
  BOOST_TEST(EventLog::number(ready[1], "workers") == 1, ready[1]);
  BOOST_TEST(EventLog::number(ready[1], "wall_ms") - restarted_at < 20000, ready[1]);
  BOOST_TEST(c.coord_log.has("only 1 of 2 workers joined within 5000 ms: starting anyway"), c.coord_log.text());
  auto out = testing::read_output(c.dir.path);
  job.check_against_oracle(mode, out);
  BOOST_TEST(out.size() == 36u);
}

BOOST_AUTO_TEST_CASE(a_worker_of_another_pipeline_is_refused) {
  auto job = cluster_job();
  testing::TempDir dir;
  uint16_t port = testing::unused_port();
  LogFile coord_log(dir.path + "/coordinator.log"), w_log(dir.path + "/w.log");
  pid_t coordinator = testing::spawn_app(
      "checkpointed_wordcount", with(job.args("running", dir.path), {"--listen", std::to_string(port)}),
      coord_log.fd, coord_log.fd);
  auto worker = job.args("windowed", dir.path + "/w");  // not the coordinator's pipeline
  int code = testing::wait_exit(testing::spawn_app(
      "checkpointed_wordcount", with(worker, {"--join", "127.0.0.1:" + std::to_string(port)}), w_log.fd, w_log.fd));
  BOOST_TEST(code == 1);
  BOOST_TEST(w_log.has("the worker runs a different pipeline"), w_log.text());
  BOOST_TEST(testing::wait_exit(coordinator) == 0);
}

BOOST_AUTO_TEST_CASE(an_unreachable_coordinator_a_port_in_use_and_bad_flags_are_clear_errors) {
  auto job = cluster_job();
  testing::TempDir dir;
  uint16_t nobody = testing::unused_port();
  auto r = testing::run_app("checkpointed_wordcount",
                            with(job.args("running", dir.path),
                                 {"--join", "127.0.0.1:" + std::to_string(nobody), "--join-timeout", "1"}));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("cannot reach the coordinator at 127.0.0.1:" + std::to_string(nobody)) != std::string::npos, r.err);

  testing::TcpServer taken;  // something already listens on this port
  auto busy = testing::run_app("checkpointed_wordcount",
                               with(job.args("running", dir.path), {"--listen", std::to_string(taken.port())}));
  BOOST_TEST(busy.exit_code == 1);
  BOOST_TEST(busy.err.find("cannot listen for workers on port " + std::to_string(taken.port())) != std::string::npos,
             busy.err);

  auto no_listen = testing::run_app("checkpointed_wordcount", with(job.args("running", dir.path), {"--min-workers", "2"}));
  BOOST_TEST(no_listen.exit_code == 2);
  BOOST_TEST(no_listen.err.find("--min-workers needs --listen") != std::string::npos, no_listen.err);
}
