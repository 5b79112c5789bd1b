// Checkpoints and recovery: the checkpoint files themselves, and real
// crashes. The crash tests run checkpointed_wordcount as a child process,
// SIGKILL it at random moments (and at chosen points: while a checkpoint is
// being written, right after a batch's output), restart it, and compare what
// it wrote with a run that never crashed and with a plain computation.
#define BOOST_TEST_MODULE recovery
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/resource.h>

#include <csignal>

#include <atomic>
#include <ctime>
#include <map>
#include <tuple>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>
#include <regex>
#include <thread>

#include "dstream/streaming_context.hpp"
#include "io/generator_receiver.hpp"
#include "io/sensor_readings.hpp"
#include "oracle.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "recovery/checkpoint.hpp"
#include "recovery/state_snapshot.hpp"
#include "recovery/write_ahead_log.hpp"
#include "tcp_server.hpp"
#include "wordcount_job.hpp"

namespace fs = std::filesystem;

namespace {

using testing::TempDir;

// A checkpoint whose partition state (3, 1) lives in a state snapshot file
// in `dir`, as a node writes it.
trib::Checkpoint sample_checkpoint(int64_t t, const std::string& dir) {
  std::string file = trib::state_snapshot_name(t, "worker-1");
  trib::write_state_snapshot(dir + "/" + file, {{{3, 1}, std::string("\0state\xff", 7)}});
  trib::Checkpoint cp;
  cp.state_files[{3, 1}] = file;
  cp.graph_fingerprint = "abc";
  cp.batch_interval_ms = 100;
  cp.zero_time_ms = 1000;
  cp.next_batch_index = t / 100;
  cp.last_batch_time_ms = t;
  cp.source_positions[0] = "42";
  cp.node_states[2] = "window";
  return cp;
}

void flip_byte(const std::string& path, std::size_t offset_from_end) {
  std::string data = testing::slurp(path);
  data[data.size() - offset_from_end] ^= 0x5a;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

}  // namespace

BOOST_AUTO_TEST_CASE(checkpoints_round_trip_and_only_the_newest_are_kept) {
  TempDir dir;
  trib::CheckpointStore store(dir.path, 3);
  for (int64_t t = 100; t <= 500; t += 100) store.save(sample_checkpoint(t, dir.path));
  BOOST_TEST(store.files().size() == 3u);
  auto cp = store.load_latest();
  BOOST_REQUIRE(cp);
  BOOST_TEST(cp->last_batch_time_ms == 500);
  BOOST_TEST(cp->source_positions.at(0) == "42");
  BOOST_TEST((cp->partition_states.at({3, 1}) == std::string("\0state\xff", 7)));
  BOOST_TEST(cp->node_states.at(2) == "window");
}

BOOST_AUTO_TEST_CASE(a_corrupt_or_truncated_checkpoint_falls_back_to_the_previous_one) {
  TempDir dir;
  trib::CheckpointStore store(dir.path, 5);
  for (int64_t t = 100; t <= 300; t += 100) store.save(sample_checkpoint(t, dir.path));
  auto files = store.files();  // newest first
  flip_byte(files[0], 12);     // inside the payload of t=300
  BOOST_CHECK_EXCEPTION(trib::CheckpointStore::read_file(files[0]), std::runtime_error,
                        [&](const std::runtime_error& e) {
                          return std::string(e.what()).find("checksum mismatch") != std::string::npos &&
                                 std::string(e.what()).find(files[0]) != std::string::npos;
                        });
  fs::resize_file(files[1], fs::file_size(files[1]) - 5);  // t=200 truncated
  BOOST_CHECK_EXCEPTION(trib::CheckpointStore::read_file(files[1]), std::runtime_error,
                        [](const std::runtime_error& e) {
                          return std::string(e.what()).find("truncated") != std::string::npos;
                        });
  auto cp = store.load_latest();
  BOOST_REQUIRE(cp);
  BOOST_TEST(cp->last_batch_time_ms == 100);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_whose_state_file_is_broken_falls_back_to_the_previous_one) {
  TempDir dir;
  trib::CheckpointStore store(dir.path, 5);
  for (int64_t t = 100; t <= 300; t += 100) store.save(sample_checkpoint(t, dir.path));
  std::string newest = dir.path + "/" + trib::state_snapshot_name(300, "worker-1");
  flip_byte(newest, 3);  // inside its checksum
  BOOST_CHECK_EXCEPTION(trib::read_state_snapshot(newest), std::runtime_error,
                        [&](const std::runtime_error& e) {
                          return std::string(e.what()).find("state snapshot " + newest + " is corrupt") !=
                                 std::string::npos;
                        });
  fs::remove(dir.path + "/" + trib::state_snapshot_name(200, "worker-1"));  // a node's file lost
  auto cp = store.load_latest();
  BOOST_REQUIRE(cp);
  BOOST_TEST(cp->last_batch_time_ms == 100);
  BOOST_TEST((cp->partition_states.at({3, 1}) == std::string("\0state\xff", 7)));
}

BOOST_AUTO_TEST_CASE(state_files_go_with_the_checkpoints_that_name_them) {
  TempDir dir;
  trib::CheckpointStore store(dir.path, 2);
  for (int64_t t = 100; t <= 400; t += 100) store.save(sample_checkpoint(t, dir.path));
  for (int64_t t = 100; t <= 400; t += 100)
    BOOST_TEST(fs::exists(dir.path + "/" + trib::state_snapshot_name(t, "worker-1")) == (t >= 300),
               "state file of " << t);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_write_that_fails_leaves_no_temporary_file) {
  TempDir dir;
  trib::CheckpointStore store(dir.path);
  auto cp = sample_checkpoint(100, dir.path);
  cp.node_states[2] = std::string(100000, 'w');
  // A disk that fills up: writing past 16 KiB fails (EFBIG) for this process.
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 16384;
  setrlimit(RLIMIT_FSIZE, &small);
  BOOST_CHECK_THROW(store.save(cp), std::runtime_error);
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  for (auto& entry : fs::directory_iterator(dir.path))
    BOOST_TEST(entry.path().filename().string().find(".tmp-") == std::string::npos, entry.path());
  BOOST_TEST(store.files().empty());
}

BOOST_AUTO_TEST_CASE(foreign_files_and_unknown_versions_are_refused) {
  TempDir dir;
  trib::CheckpointStore store(dir.path);
  std::ofstream(dir.path + "/checkpoint-700.bin") << "not a checkpoint at all";
  BOOST_CHECK_EXCEPTION(trib::CheckpointStore::read_file(dir.path + "/checkpoint-700.bin"),
                        std::runtime_error, [](const std::runtime_error& e) {
                          return std::string(e.what()).find("bad magic") != std::string::npos;
                        });
  store.save(sample_checkpoint(800, dir.path));
  std::string data = testing::slurp(dir.path + "/checkpoint-800.bin");
  data[8] = 9;  // version field
  std::ofstream(dir.path + "/checkpoint-800.bin", std::ios::binary | std::ios::trunc) << data;
  BOOST_CHECK_EXCEPTION(trib::CheckpointStore::read_file(dir.path + "/checkpoint-800.bin"),
                        std::runtime_error, [](const std::runtime_error& e) {
                          return std::string(e.what()).find("format version 9") != std::string::npos;
                        });
  BOOST_TEST(!store.load_latest());
}

BOOST_AUTO_TEST_CASE(a_checkpoint_of_another_pipeline_is_refused) {
  TempDir dir;
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  {
    auto ssc = trib::StreamingContext::getOrCreate(dir.path, [&] {
      auto s = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(20));
      s->queueStream(queue).map([](int x) { return x + 1; }).count().print();
      return s;
    });
    BOOST_TEST(!ssc->recovered());
    ssc->start();
    BOOST_REQUIRE(ssc->awaitBatches(2, std::chrono::seconds(30)));
    ssc->stop(false);
  }
  // Same directory, different pipeline (a shuffle added).
  BOOST_CHECK_EXCEPTION(
      trib::StreamingContext::getOrCreate(dir.path, [&] {
        auto s = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(20));
        s->queueStream(queue).map([](int x) { return x + 1; }).repartition(3).count().print();
        return s;
      }),
      std::runtime_error, [](const std::runtime_error& e) {
        return std::string(e.what()).find("different pipeline") != std::string::npos;
      });
  // The original pipeline is accepted.
  auto again = trib::StreamingContext::getOrCreate(dir.path, [&] {
    auto s = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(20));
    s->queueStream(queue).map([](int x) { return x + 1; }).count().print();
    return s;
  });
  BOOST_TEST(again->recovered());
}

// ---- crash tests ---------------------------------------------------------------

namespace {

const testing::WordcountJob kJob;  // 40 ms batches, 20 of data, then windows drain
using testing::read_output;

std::vector<std::string> job_args(const std::string& mode, const std::string& dir) {
  return kJob.args(mode, dir);
}

// Runs `program args` to its end, SIGKILLing it first after each of
// `kill_after` delays (ms) and restarting it; `crash_env` makes the first run
// crash itself.
void run_app_with_crashes(const std::string& program, const std::vector<std::string>& args,
                          const std::string& dir, const std::vector<int>& kill_after,
                          const std::string& crash_env = "") {
  std::string log = dir + "/log";
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<std::string> env;
  if (!crash_env.empty()) env.push_back(crash_env);
  if (!crash_env.empty()) {
    int code = testing::wait_exit(testing::spawn_app(program, args, fd, fd, env));
    BOOST_TEST_REQUIRE(code == 128 + SIGKILL, "the crash point was not reached: " << crash_env);
  }
  for (int delay : kill_after) {
    pid_t pid = testing::spawn_app(program, args, fd, fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ::kill(pid, SIGKILL);
    testing::wait_exit(pid);
  }
  int code = testing::wait_exit(testing::spawn_app(program, args, fd, fd));
  ::close(fd);
  BOOST_TEST_REQUIRE(code == 0, "final run failed:\n" << testing::slurp(log));
}

void run_with_crashes(const std::string& mode, const std::string& dir,
                      const std::vector<int>& kill_after, const std::string& crash_env = "") {
  run_app_with_crashes("checkpointed_wordcount", job_args(mode, dir), dir, kill_after, crash_env);
}

void check_against_oracle(const std::string& mode,
                          const std::vector<std::pair<int64_t, std::string>>& out) {
  kJob.check_against_oracle(mode, out);
}

void crash_scenarios(const std::string& mode) {
  TempDir clean;
  run_with_crashes(mode, clean.path, {});
  auto want = read_output(clean.path);
  check_against_oracle(mode, want);
  std::size_t compared = kJob.compared(mode);
  BOOST_REQUIRE_GE(want.size(), compared);

  struct Scenario {
    std::vector<int> kills;
    std::string env;
  };
  std::vector<Scenario> scenarios = {
      {{}, "TRIB_CRASH_AT=durable-write-before-rename:4"},  // mid checkpoint write
      {{}, "TRIB_CRASH_AT=after-output:5"},                 // output written, batch not recorded
  };
  for (unsigned seed = 1; seed <= 3; ++seed) {
    std::mt19937 rng(seed * 7919 + static_cast<unsigned>(mode.size()));
    std::uniform_int_distribution<int> delay(30, 700);
    scenarios.push_back({{delay(rng), delay(rng), delay(rng)}, ""});
  }
  for (auto& s : scenarios) {
    TempDir crashed;
    run_with_crashes(mode, crashed.path, s.kills, s.env);
    auto got = read_output(crashed.path);
    BOOST_TEST_CONTEXT(mode << " " << (s.env.empty() ? "random kills" : s.env)) {
      check_against_oracle(mode, got);
      BOOST_REQUIRE_GE(got.size(), compared);
      for (std::size_t i = 0; i < compared; ++i)
        BOOST_TEST(got[i].second == want[i].second, "batch " << i << " differs from the failure-free run");
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(running_counts_survive_crashes_exactly_once) { crash_scenarios("running"); }

BOOST_AUTO_TEST_CASE(windowed_counts_survive_crashes_exactly_once) { crash_scenarios("windowed"); }

BOOST_AUTO_TEST_CASE(incremental_windows_survive_crashes_exactly_once) { crash_scenarios("incremental"); }

namespace {

std::string utc_text(int64_t ms) {
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

// What sensor_temperature --event-time (append, tumbling windows) must write
// for each batch, from the generator's lines by the definitions in
// dstream/event_time.hpp: batch k holds readings [k*n, (k+1)*n), sliced into
// `partitions` as Spark slices; the watermark trails each partition's
// largest timestamp by max_delay, one batch behind; a window is written once
// watermark >= end + lateness; a reading whose window is complete is dropped.
std::vector<std::string> sensor_oracle(int batches, int partitions, int64_t per_batch, int64_t total,
                                       trib::SensorReadingOptions gen, int64_t window_ms,
                                       int64_t max_delay, int64_t lateness) {
  std::vector<std::string> out;
  int64_t wm = INT64_MIN;
  std::vector<int64_t> channel(partitions, INT64_MIN);
  std::map<std::pair<int64_t, std::string>, std::pair<double, int64_t>> open;  // (start, sensor)
  for (int k = 0; k < batches; ++k) {
    std::vector<std::string> rows;
    for (auto it = open.begin(); it != open.end();) {
      int64_t end = it->first.first + window_ms;
      if (wm != INT64_MIN && end + lateness <= wm) {
        char avg[32];
        std::snprintf(avg, sizeof(avg), "%.2f", it->second.first / it->second.second);
        rows.push_back(it->first.second + " [" + utc_text(it->first.first) + ", " + utc_text(end) + ") avg " + avg +
                       " C over " + std::to_string(it->second.second) + " readings");
        it = open.erase(it);
      } else {
        ++it;
      }
    }
    std::vector<std::tuple<int64_t, std::string, double>> batch;
    for (int64_t i = k * per_batch; i < std::min<int64_t>((k + 1) * per_batch, total); ++i) {
      std::string line = trib::sensor_reading_line(gen, i);
      auto c1 = line.find(','), c2 = line.rfind(',');
      batch.emplace_back(std::stoll(line.substr(c1 + 1, c2 - c1 - 1)), line.substr(0, c1),
                         std::stod(line.substr(c2 + 1)));
    }
    for (int p = 0; p < partitions; ++p)
      for (std::size_t j = p * batch.size() / partitions; j < (p + 1) * batch.size() / partitions; ++j)
        channel[p] = std::max(channel[p], std::get<0>(batch[j]));
    std::stable_sort(batch.begin(), batch.end(),
                     [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
    for (auto& [ts, sensor, celsius] : batch) {
      int64_t start = ts - ((ts % window_ms) + window_ms) % window_ms;
      if (wm != INT64_MIN && start + window_ms + lateness <= wm) continue;  // late
      auto& acc = open[{start, sensor}];
      acc.first += celsius;
      acc.second += 1;
    }
    int64_t low = INT64_MAX;
    bool any = false;
    for (auto mx : channel)
      if (mx != INT64_MIN) {
        low = std::min(low, mx - max_delay);
        any = true;
      }
    if (any && low > wm) wm = low;
    std::sort(rows.begin(), rows.end());
    std::string text;
    for (auto& r : rows) text += r + "\n";
    out.push_back(text);
  }
  return out;
}

}  // namespace

// Event-time windows (sensor_temperature --event-time on its replayable,
// out-of-order generator with late readings): the watermark and the open
// windows are in the checkpoints, so a crashed and restarted run writes
// every batch exactly as a failure-free run does.
BOOST_AUTO_TEST_CASE(event_time_windows_survive_crashes_exactly_once) {
  auto args = [](const std::string& dir, const std::string& mode) {
    return std::vector<std::string>{
        "--event-time", "--checkpoint", dir + "/ckpt", "--output", dir + "/out", "--batch-ms", "40",
        "--readings-per-batch", "100", "--step-ms", "20", "--window", "1", "--max-delay-ms", "300",
        "--disorder-ms", "300", "--late-every", "37", "--late-by-ms", "5000", "--lateness-ms", "200",
        "--total-readings", "2400", "--stop-after", "28", "--output-mode", mode, "--log-level", "warn"};
  };
  for (std::string mode : {"append", "update"}) {
    TempDir clean;
    run_app_with_crashes("sensor_temperature", args(clean.path, mode), clean.path, {});
    auto want = read_output(clean.path);
    BOOST_REQUIRE_GE(want.size(), 28u);
    // Append mode: each (sensor, window) once over the whole run.
    std::set<std::string> windows;
    std::size_t rows = 0;
    for (auto& [t, text] : want) {
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        ++rows;
        std::string window = line.substr(0, line.find(") avg"));
        BOOST_TEST((mode == "update" || windows.insert(window).second), "emitted twice: " << window);
      }
    }
    BOOST_TEST(rows >= 100u, "too few windows to compare: " << rows);
    if (mode == "append") {
      trib::SensorReadingOptions gen;
      gen.step_ms = 20;
      gen.max_disorder_ms = 300;
      gen.late_every = 37;
      gen.late_by_ms = 5000;
      int partitions = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      auto oracle = sensor_oracle(28, partitions, 100, 2400, gen, 1000, 300, 200);
      for (std::size_t k = 0; k < oracle.size(); ++k)
        BOOST_TEST(want[k].second == oracle[k], "batch " << k << " differs from the plain computation");
    }
    std::vector<std::pair<std::vector<int>, std::string>> scenarios = {
        {{}, "TRIB_CRASH_AT=after-output:5"}, {{}, "TRIB_CRASH_AT=durable-write-before-rename:6"}};
    std::mt19937 rng(static_cast<unsigned>(mode.size()));
    std::uniform_int_distribution<int> delay(100, 800);
    scenarios.push_back({{delay(rng), delay(rng)}, ""});
    for (auto& [kills, env] : scenarios) {
      TempDir crashed;
      run_app_with_crashes("sensor_temperature", args(crashed.path, mode), crashed.path, kills, env);
      auto got = read_output(crashed.path);
      BOOST_TEST_CONTEXT(mode << " " << (env.empty() ? "random kills" : env)) {
        BOOST_REQUIRE_GE(got.size(), 28u);
        for (std::size_t i = 0; i < 28; ++i) {
          BOOST_TEST(got[i].second == want[i].second, "batch " << i << " differs from the failure-free run");
        }
      }
    }
  }
}

namespace {

// A socket job's runs against one test server, all logging to dir/log.
class SocketJob {
 public:
  explicit SocketJob(const std::string& dir) : dir_(dir) {
    log_fd_ = ::open((dir + "/log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    for (int i = 0; i < 3000; ++i) lines.push_back("w" + std::to_string(i % 97) + " common line" + std::to_string(i));
  }
  ~SocketJob() { ::close(log_fd_); }

  std::vector<std::string> args(const std::string& stop_after) const {
    return {"--mode", "running", "--source", "socket://127.0.0.1:" + std::to_string(server.port()),
            "--checkpoint", dir_ + "/ckpt", "--output", dir_ + "/out", "--batch-ms", "2000",
            "--stop-after", stop_after};
  }

  // Runs the job until it accepted every line, then crashes it as it closes
  // its first interval, before any batch holds them: they exist only in
  // the write-ahead log, in at least three entries (sent in three parts).
  void accept_lines_then_crash() {
    pid_t pid = testing::spawn_app("checkpointed_wordcount", args("5"), log_fd_, log_fd_,
                                   {"TRIB_CRASH_AT=interval-close:1", "TRIB_LOG_LEVEL=debug"});
    server.accept_client();
    for (std::size_t part = 1; part <= 3; ++part) {
      std::string bytes;
      for (std::size_t i = (part - 1) * lines.size() / 3; i < part * lines.size() / 3; ++i)
        bytes += lines[i] + "\n";
      server.send(bytes);
      for (int i = 0; i < 500 && logged() < part * lines.size() / 3; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    BOOST_REQUIRE_EQUAL(logged(), lines.size());
    BOOST_REQUIRE_EQUAL(testing::wait_exit(pid), 128 + SIGKILL);
    server.close_client();
    // The lines came in over slots of the open interval, whose map tasks
    // ran before the crash (map-ahead): that work is lost with the
    // process, the lines are not.
    BOOST_TEST(log().find("mapped ahead") != std::string::npos, log());
  }

  // Starts the job (a new one, or a restart) with `env` added to its
  // environment; the caller accepts its connection and waits for it.
  pid_t start(const std::string& stop_after, std::vector<std::string> env = {}) {
    return testing::spawn_app("checkpointed_wordcount", args(stop_after), log_fd_, log_fd_, env);
  }

  // Restarts the job, which reconnects (and gets nothing new), until
  // --stop-after; returns its exit code.
  int run(const std::string& stop_after, std::vector<std::string> extra = {}) {
    auto a = args(stop_after);
    a.insert(a.end(), extra.begin(), extra.end());
    std::atomic<bool> exited{false};  // a job that refuses to start never connects
    std::thread acceptor([&] {
      while (!exited && !server.try_accept_client(100)) {
      }
    });
    int code = testing::wait_exit(testing::spawn_app("checkpointed_wordcount", a, log_fd_, log_fd_));
    exited = true;
    acceptor.join();
    server.close_client();
    return code;
  }

  std::string log() const { return testing::slurp(dir_ + "/log"); }
  std::string ckpt() const { return dir_ + "/ckpt"; }
  // What the last batch must hold: the running count of every line.
  std::string counts_of_all_lines() const { return testing::WordcountJob::as_text(oracle::word_counts(lines)); }

  testing::TcpServer server;
  std::vector<std::string> lines;

 private:
  std::size_t logged() const { return trib::WriteAheadLog::read(ckpt(), 0, 0).size(); }
  std::string dir_;
  int log_fd_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(socket_lines_accepted_before_a_crash_are_replayed_from_the_log) {
  TempDir dir;
  SocketJob job(dir.path);
  job.accept_lines_then_crash();
  BOOST_TEST(read_output(dir.path).empty(), "no batch ran before the crash");
  int code = job.run("2");
  BOOST_REQUIRE_MESSAGE(code == 0, job.log());
  auto out = read_output(dir.path);
  BOOST_REQUIRE(!out.empty());
  BOOST_TEST(out.back().second == job.counts_of_all_lines());
  BOOST_TEST(job.log().find("replaying 3000 records from the write-ahead log") != std::string::npos);
}

// ---- data-loss paths (issue #12) ----------------------------------------------------

BOOST_AUTO_TEST_CASE(a_job_whose_checkpoints_are_all_unreadable_refuses_to_start_unless_told_to_start_fresh) {
  TempDir dir;
  auto args = job_args("running", dir.path);
  auto first = testing::run_app("checkpointed_wordcount", args);
  BOOST_REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  auto files = trib::CheckpointStore(dir.path + "/ckpt").files();
  BOOST_REQUIRE_EQUAL(files.size(), 3u);
  for (auto& f : files) flip_byte(f, 12);
  auto output = read_output(dir.path);

  auto refused = testing::run_app("checkpointed_wordcount", args);
  BOOST_TEST(refused.exit_code == 3, "exit 3: refused to recover");
  for (auto& f : files)
    BOOST_TEST(refused.err.find("checkpoint " + f + " is corrupt (checksum mismatch)") != std::string::npos,
               "names " << f << " and why:\n" << refused.err);
  BOOST_TEST(refused.err.find("--start-fresh") != std::string::npos);
  BOOST_TEST(trib::CheckpointStore(dir.path + "/ckpt").files() == files, "the checkpoints are left alone");
  BOOST_TEST(read_output(dir.path) == output, "no batch ran");

  args.push_back("--start-fresh");
  auto fresh = testing::run_app("checkpointed_wordcount", args);
  BOOST_TEST_REQUIRE(fresh.exit_code == 0, fresh.err);
  BOOST_TEST(fresh.err.find("starting a new job as asked") != std::string::npos, fresh.err);
  BOOST_TEST(read_output(dir.path).size() > output.size(), "the new job ran");
}

// A new job's receivers start once its first checkpoint is durable: a
// record accepted before would be lost to a crash then, as the restart
// finds no checkpoint and starts a new job. Here that write takes 1.5 s.
BOOST_AUTO_TEST_CASE(a_new_jobs_receiver_connects_only_once_its_first_checkpoint_is_durable) {
  TempDir dir;
  SocketJob job(dir.path);
  pid_t pid = job.start("1", {"TRIB_FAULTS=durable-write=delay:1500@1"});
  bool checkpointed_at_connect = false;
  for (int i = 0; i < 1000 && !job.server.try_accept_client(10); ++i) {
  }
  checkpointed_at_connect = !trib::CheckpointStore(job.ckpt()).files().empty();
  BOOST_TEST(checkpointed_at_connect, "the receiver connected before the first checkpoint was on disk");
  std::string bytes;
  for (auto& line : job.lines) bytes += line + "\n";
  job.server.send(bytes);
  BOOST_TEST(testing::wait_exit(pid) == 0, job.log());
  job.server.close_client();
}

// Checkpoints lost (deleted) while the write-ahead log still holds records a
// job accepted: starting a new job would drop them, so it is refused unless
// asked for.
BOOST_AUTO_TEST_CASE(a_log_with_records_but_no_checkpoint_is_not_dropped_unless_told_to_start_fresh) {
  TempDir dir;
  SocketJob job(dir.path);
  job.accept_lines_then_crash();
  for (auto& f : trib::CheckpointStore(job.ckpt()).files()) std::filesystem::remove(f);
  BOOST_TEST(job.run("2") == 3, "exit 3: refused to recover");
  std::string log = job.log();
  BOOST_TEST(log.find("holds no checkpoint, but its write-ahead log holds records a job accepted") !=
                 std::string::npos, log);
  BOOST_TEST(log.find("stream 0: 3000 records in its write-ahead log") != std::string::npos, log);
  BOOST_TEST(trib::WriteAheadLog::read(job.ckpt(), 0, 0).size() == job.lines.size(), "the log is left alone");
  BOOST_TEST(job.run("1", {"--start-fresh"}) == 0, job.log());
}

BOOST_AUTO_TEST_CASE(falling_back_to_an_older_checkpoint_replays_the_log_it_needs) {
  TempDir dir;
  SocketJob job(dir.path);
  job.accept_lines_then_crash();
  // Replays the lines into its first batch and checkpoints it: the log
  // before that checkpoint is not needed by it, but by the older ones.
  BOOST_REQUIRE_MESSAGE(job.run("1") == 0, job.log());
  auto files = trib::CheckpointStore(job.ckpt()).files();
  BOOST_REQUIRE_GE(files.size(), 2u);
  auto oldest = trib::CheckpointStore::read_file(files.back());
  BOOST_REQUIRE_MESSAGE(oldest.source_positions[0].empty() || std::stoll(oldest.source_positions[0]) == 0,
                        "the oldest kept checkpoint predates the lines");
  for (std::size_t i = 0; i + 1 < files.size(); ++i) flip_byte(files[i], 12);

  // Falls back to the oldest checkpoint: every line must come back from the log.
  BOOST_REQUIRE_MESSAGE(job.run("4") == 0, job.log());
  auto out = read_output(dir.path);
  BOOST_REQUIRE(!out.empty());
  BOOST_TEST(out.back().second == job.counts_of_all_lines());
}

BOOST_AUTO_TEST_CASE(a_corrupt_write_ahead_log_record_stops_the_job_unless_the_loss_is_accepted) {
  TempDir dir;
  SocketJob job(dir.path);
  job.accept_lines_then_crash();
  std::string segment = job.ckpt() + "/wal-0-0.log";
  std::string data = testing::slurp(segment);
  data[38] ^= 0x5a;  // inside the first entry's records (after the 8-byte magic and its 20-byte header)
  std::ofstream(segment, std::ios::binary | std::ios::trunc) << data;

  BOOST_TEST(job.run("2") == 3, "exit 3: refused to recover");
  BOOST_TEST(job.log().find("write-ahead log " + segment + ": corrupt entry at byte 8") != std::string::npos,
             job.log());
  BOOST_TEST(read_output(dir.path).empty(), "no batch ran");

  BOOST_REQUIRE_MESSAGE(job.run("2", {"--accept-wal-loss"}) == 0, job.log());
  std::smatch m;
  std::string log = job.log();
  BOOST_REQUIRE_MESSAGE(std::regex_search(log, m, std::regex("stream 0: (\\d+) records of the write-ahead log are lost")),
                        log);
  std::size_t lost = std::stoul(m[1]);
  BOOST_REQUIRE(lost > 0 && lost < job.lines.size());
  // The first entry held the first `lost` lines: the job counts exactly the others.
  auto out = read_output(dir.path);
  BOOST_REQUIRE(!out.empty());
  std::vector<std::string> kept(job.lines.begin() + static_cast<std::ptrdiff_t>(lost), job.lines.end());
  BOOST_TEST(out.back().second == testing::WordcountJob::as_text(oracle::word_counts(kept)));
}

// --stop-after N means N batches of the job, not of this process: a job
// crashed mid-way and restarted with the same command publishes exactly N.
// (20 ms batches: a stop requested after the N-th batch, as before, lets
// more intervals close before it takes effect.)
BOOST_AUTO_TEST_CASE(stop_after_counts_the_jobs_batches_across_restarts) {
  TempDir dir;
  testing::WordcountJob job;
  job.batch_ms = 20;
  job.batches = 30;
  int log = ::open((dir.path + "/log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t first = testing::spawn_app("checkpointed_wordcount", job.args("running", dir.path), log, log,
                                   {"TRIB_CRASH_AT=after-output:12"});
  BOOST_REQUIRE_EQUAL(testing::wait_exit(first), 128 + SIGKILL);
  BOOST_REQUIRE_EQUAL(testing::wait_exit(testing::spawn_app("checkpointed_wordcount", job.args("running", dir.path),
                                                            log, log)),
                      0);
  ::close(log);
  auto out = testing::read_output(dir.path);
  BOOST_TEST(out.size() == 30u);
  job.check_against_oracle("running", out);
  // A job that already published its N batches ends at once, publishing nothing.
  BOOST_TEST(testing::run_app("checkpointed_wordcount", job.args("running", dir.path)).exit_code == 0);
  BOOST_TEST(testing::read_output(dir.path).size() == 30u);
}
