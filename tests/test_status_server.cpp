// The job's web server over real HTTP on loopback: the JSON status API and
// /metrics of a running job, checked against independent records (the
// records the test's receiver stored, completedBatches(), the checkpoint
// events, the files on disk); the Prometheus exposition format line by line;
// a port in use; and the progress line's falling-behind warning.
#define BOOST_TEST_MODULE status_server
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "actors/progress_meter.hpp"
#include "dstream/core/text.hpp"
#include "dstream/streaming_context.hpp"
#include "io/status_render.hpp"
#include "job_helpers.hpp"
#include "process.hpp"
#include "status_api.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using testing::get_json;
using testing::items;

namespace {

struct PromSample {
  std::string name, labels;
  double value = 0;
};

// Parses Prometheus text format 0.0.4, failing the test on any line that
// breaks it: every sample belongs to a family announced by HELP and TYPE
// before it, counters end in _total, histograms have cumulative buckets
// ending in +Inf equal to _count.
std::vector<PromSample> parse_exposition(const std::string& text) {
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+))");
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::vector<PromSample> out;
  std::istringstream in(text);
  std::string line;
  BOOST_REQUIRE(!text.empty() && text.back() == '\n');
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      BOOST_CHECK_MESSAGE(helped.insert(m[1]).second, "HELP twice for " << m[1]);
    } else if (std::regex_match(line, m, type)) {
      BOOST_CHECK_MESSAGE(helped.count(m[1]), "TYPE before HELP for " << m[1]);
      BOOST_CHECK_MESSAGE(types.emplace(m[1], m[2]).second, "TYPE twice for " << m[1]);
      if (m[2] == "counter") BOOST_CHECK_MESSAGE(std::string(m[1]).size() > 6 &&
                                                     std::string(m[1]).substr(std::string(m[1]).size() - 6) == "_total",
                                                 "counter " << m[1] << " does not end in _total");
    } else if (std::regex_match(line, m, sample)) {
      std::string name = m[1];
      std::string family = name;
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string s = suffix;
        if (name.size() > s.size() && name.substr(name.size() - s.size()) == s &&
            types.count(name.substr(0, name.size() - s.size())) &&
            types[name.substr(0, name.size() - s.size())] == "histogram")
          family = name.substr(0, name.size() - s.size());
      }
      BOOST_CHECK_MESSAGE(types.count(family), "sample " << name << " before its TYPE line");
      double v = 0;
      std::string value = m[4];
      if (value == "+Inf") v = HUGE_VAL;
      else BOOST_CHECK_NO_THROW(v = std::stod(value));
      out.push_back({name, m[3], v});
    } else {
      BOOST_ERROR("not a line of the exposition format: '" << line << "'");
    }
  }
  return out;
}

double value_of(const std::vector<PromSample>& samples, const std::string& name, const std::string& labels = "") {
  for (auto& s : samples)
    if (s.name == name && s.labels == labels) return s.value;
  BOOST_ERROR("no sample " << name << "{" << labels << "}");
  return -1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(api_and_metrics_match_the_job) {
  testing::TempDir dir;
  const int lines = 5000;
  const std::string error = "disk \"on fire\"\\ at line\n2";
  auto runs = std::make_shared<std::atomic<int>>(0);
  auto ssc = testing::word_count_job(dir.path, lines, runs, error);
  std::mutex mutex;
  std::vector<int64_t> checkpoint_batches;
  ssc->addEventListener([&](const trib::JobEvent& e) {
    if (e.kind != trib::JobEvent::Kind::checkpoint_written) return;
    std::lock_guard<std::mutex> lock(mutex);
    checkpoint_batches.push_back(e.batch_time);
  });
  ssc->start();
  uint16_t port = ssc->uiPort();
  BOOST_REQUIRE(port > 0);

  // Live: the figures move while the job runs.
  int64_t first = get_json(port, "/api/v1/status").get<int64_t>("batches_completed");
  BOOST_CHECK(testing::eventually(
      [&] { return get_json(port, "/api/v1/status").get<int64_t>("batches_completed") >= first + 3; }, 30s));
  BOOST_CHECK_EQUAL(get_json(port, "/api/v1/status").get<std::string>("state"), "running");
  // The receiver failed once and runs again; its records are all in batches.
  BOOST_REQUIRE(testing::eventually([&] { return runs->load() >= 2 && ssc->status().processed_records == lines; }, 30s));
  BOOST_REQUIRE(testing::eventually(
      [&] {
        auto r = items(get_json(port, "/api/v1/receivers"));
        return r.size() == 1 && r[0].get<int64_t>("errors") == 1;
      },
      10s));
  ssc->stop(/*graceful=*/true);

  // Stopped: the server shows the final status until the context goes.
  auto batches = ssc->completedBatches();
  auto status = get_json(port, "/api/v1/status");
  BOOST_CHECK_EQUAL(status.get<std::string>("state"), "stopped");
  BOOST_CHECK_EQUAL(status.get<int64_t>("batches_completed"), static_cast<int64_t>(batches.size()));
  BOOST_CHECK_EQUAL(status.get<int64_t>("processed_records"), lines);
  BOOST_CHECK_EQUAL(status.get<int64_t>("received_records"), lines);
  BOOST_CHECK_EQUAL(status.get<int64_t>("batch_interval_ms"), 100);
  BOOST_CHECK_EQUAL(status.get<int64_t>("last_batch.batch_time_ms"), batches.back().batch_time_ms);

  auto api_batches = items(get_json(port, "/api/v1/batches"));
  BOOST_REQUIRE_EQUAL(api_batches.size(), batches.size());
  int64_t sum = 0;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    BOOST_CHECK_EQUAL(api_batches[i].get<int64_t>("batch_time_ms"), batches[i].batch_time_ms);
    BOOST_CHECK_EQUAL(api_batches[i].get<int64_t>("batch_index"), batches[i].batch_index);
    BOOST_CHECK_EQUAL(api_batches[i].get<int64_t>("input_records"), batches[i].input_records);
    BOOST_CHECK_CLOSE(api_batches[i].get<double>("processing_time_ms"), batches[i].processing_time_ms, 1e-9);
    BOOST_CHECK_CLOSE(api_batches[i].get<double>("total_delay_ms"), batches[i].total_delay_ms, 1e-9);
    sum += api_batches[i].get<int64_t>("input_records");
  }
  BOOST_CHECK_EQUAL(sum, lines);

  auto receivers = items(get_json(port, "/api/v1/receivers"));
  BOOST_REQUIRE_EQUAL(receivers.size(), 1u);
  BOOST_CHECK_EQUAL(receivers[0].get<int64_t>("records"), lines);
  BOOST_CHECK_EQUAL(receivers[0].get<int64_t>("errors"), 1);
  BOOST_CHECK_EQUAL(receivers[0].get<std::string>("last_error"), error);  // escaped and read back exactly
  BOOST_CHECK_EQUAL(receivers[0].get<std::string>("name"), "once-then-fail \"test\"");
  BOOST_CHECK_EQUAL(receivers[0].get<std::string>("state"), "stopped");

  auto workers = items(get_json(port, "/api/v1/workers"));
  BOOST_REQUIRE_EQUAL(workers.size(), 1u);
  BOOST_CHECK_EQUAL(workers[0].get<std::string>("label"), "coordinator");
  BOOST_CHECK_EQUAL(workers[0].get<int64_t>("tasks_running"), 0);
  // Every batch ran at least a map and a reduce task per partition here.
  BOOST_CHECK_GE(workers[0].get<int64_t>("tasks_completed"), static_cast<int64_t>(batches.size()) * 4);
  BOOST_CHECK_EQUAL(workers[0].get<int64_t>("state_partitions"), 2);

  auto checkpoints = get_json(port, "/api/v1/checkpoints");
  std::vector<int64_t> written;
  {
    std::lock_guard<std::mutex> lock(mutex);
    written = checkpoint_batches;
  }
  BOOST_REQUIRE(!written.empty());
  BOOST_CHECK(checkpoints.get<bool>("enabled"));
  BOOST_CHECK_EQUAL(checkpoints.get<std::string>("dir"), dir.path);
  BOOST_CHECK_EQUAL(checkpoints.get<int64_t>("written"), static_cast<int64_t>(written.size()));
  BOOST_CHECK_EQUAL(checkpoints.get<int64_t>("last.batch_time_ms"), written.back());
  // Its size covers at least its own file, still on disk (the newest 3 are kept).
  auto file = dir.path + "/checkpoint-" + std::to_string(written.back()) + ".bin";
  BOOST_REQUIRE(std::filesystem::exists(file));
  BOOST_CHECK_GT(checkpoints.get<int64_t>("last.bytes"), static_cast<int64_t>(std::filesystem::file_size(file)));
  auto recent = items(checkpoints.get_child("recent"));
  BOOST_CHECK_EQUAL(recent.size(), std::min<std::size_t>(written.size(), trib::CheckpointStatus::kRecent));
  BOOST_CHECK_EQUAL(recent.back().get<int64_t>("batch_time_ms"), written.back());

  auto operators = items(get_json(port, "/api/v1/operators"));
  BOOST_REQUIRE_EQUAL(operators.size(), 1u);
  BOOST_CHECK_EQUAL(operators[0].get<std::string>("name"), "updateStateByKey");
  BOOST_CHECK_EQUAL(operators[0].get<int64_t>("partitions"), 2);
  BOOST_CHECK_GT(operators[0].get<int64_t>("state_bytes"), 0);  // 8 keys with counts
  BOOST_CHECK_EQUAL(operators[0].get<int64_t>("measured_batch_ms"), written.back());

  std::string type;
  auto metrics = testing::http_get(port, "/metrics", &type);
  BOOST_CHECK(type.rfind("text/plain; version=0.0.4", 0) == 0);
  auto samples = parse_exposition(metrics);
  double n = static_cast<double>(batches.size());
  BOOST_CHECK_EQUAL(value_of(samples, "tributary_batches_completed_total"), n);
  BOOST_CHECK_EQUAL(value_of(samples, "tributary_records_processed_total"), lines);
  BOOST_CHECK_EQUAL(value_of(samples, "tributary_records_received_total"), lines);
  BOOST_CHECK_EQUAL(value_of(samples, "tributary_job_state", "state=\"stopped\""), 1);
  BOOST_CHECK_EQUAL(value_of(samples, "tributary_checkpoints_written_total"), static_cast<double>(written.size()));
  BOOST_CHECK_EQUAL(value_of(samples, "tributary_receiver_records_total",
                             "stream=\"0\",name=\"once-then-fail \\\"test\\\"\""),
                    lines);
  std::string op = "node=\"" + operators[0].get<std::string>("node") + "\",operator=\"updateStateByKey\"";
  BOOST_CHECK_EQUAL(value_of(samples, "tributary_state_partitions", op), 2);
  BOOST_CHECK_EQUAL(value_of(samples, "tributary_state_bytes", op), operators[0].get<double>("state_bytes"));
  // The histograms count every batch; buckets are cumulative, the sum is the batches' sum.
  for (const char* h : {"tributary_batch_processing_seconds", "tributary_batch_scheduling_delay_seconds",
                        "tributary_batch_total_delay_seconds"}) {
    std::string name = h;
    BOOST_CHECK_EQUAL(value_of(samples, name + "_count"), n);
    BOOST_CHECK_EQUAL(value_of(samples, name + "_bucket", "le=\"+Inf\""), n);
    double prev = 0;
    for (auto& s : samples)
      if (s.name == name + "_bucket") {
        BOOST_CHECK_GE(s.value, prev);
        prev = s.value;
      }
  }
  double processing = 0;
  for (auto& b : batches) processing += b.processing_time_ms / 1000.0;
  BOOST_CHECK_CLOSE(value_of(samples, "tributary_batch_processing_seconds_sum"), processing, 1e-6);
  // A batch under 100 ms of processing sits in the buckets from le="0.1" on.
  int64_t fast = 0;
  for (auto& b : batches) fast += b.processing_time_ms <= 100;
  BOOST_CHECK_EQUAL(value_of(samples, "tributary_batch_processing_seconds_bucket", "le=\"0.1\""), fast);

  // The page and its script are served from the binary.
  std::string html = testing::http_get(port, "/", &type);
  BOOST_CHECK(type.rfind("text/html", 0) == 0);
  BOOST_CHECK(html.find("/ui/chart.min.js") != std::string::npos);
  BOOST_CHECK(testing::http_get(port, "/ui/chart.min.js").find("Chart.js v3") != std::string::npos);
  BOOST_CHECK_THROW(testing::http_get(port, "/ui/missing.js"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(a_port_in_use_is_an_error_naming_it) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE_EQUAL(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  BOOST_REQUIRE_EQUAL(::listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  uint16_t taken = ntohs(addr.sin_port);

  trib::StreamingContext ssc(100ms);
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  ssc.queueStream(queue).foreachRDD([](const std::vector<int>&, int64_t) {});
  ssc.enableUi(taken);
  try {
    ssc.start();
    BOOST_ERROR("start() served on a port in use");
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    BOOST_CHECK_MESSAGE(what.find("127.0.0.1:" + std::to_string(taken)) != std::string::npos, what);
    BOOST_CHECK_MESSAGE(what.find("in use") != std::string::npos, what);
  }
  ::close(fd);
  BOOST_CHECK_THROW(trib::StreamingContext(100ms, [] {
                      trib::StreamingOptions o;
                      o.ui_port = 70000;
                      return o;
                    }()),
                    std::invalid_argument);
}

namespace {

trib::BatchInfo batch(int64_t k, int64_t records, double scheduling, double processing) {
  return {1000 * (k + 1), k, records, scheduling, processing, scheduling + processing};
}

}  // namespace

BOOST_AUTO_TEST_CASE(progress_warns_when_the_job_falls_behind) {
  trib::ProgressMeter meter;
  trib::JobStatus s;
  s.batch_interval_ms = 1000;
  for (int64_t k = 0; k < 10; ++k) {
    s.batches.push_back(batch(k, 500, 2, 100));
    s.processed_records += 500;
  }
  s.batches_completed = 10;
  auto ok = meter.report(s, 10000);
  BOOST_CHECK_MESSAGE(ok.warning.empty(), ok.warning);
  BOOST_CHECK_MESSAGE(ok.line.find("10 batches in the last 10 s") != std::string::npos, ok.line);
  BOOST_CHECK_MESSAGE(ok.line.find("500 records/s processed") != std::string::npos, ok.line);
  BOOST_CHECK_MESSAGE(ok.line.find("processing 100.0 ms, scheduling delay 2.0 ms") != std::string::npos, ok.line);

  // Then batches take 1.5 intervals: the delay grows batch after batch.
  for (int64_t k = 10; k < 16; ++k) s.batches.push_back(batch(k, 500, 500.0 * (k - 9), 1500));
  s.batches_completed = 16;
  s.batches_in_flight = 3;
  auto behind = meter.report(s, 10000);
  BOOST_CHECK_MESSAGE(behind.warning.find("6 of the last 6 batches took longer than the 1000 ms interval") !=
                          std::string::npos,
                      behind.warning);
  BOOST_CHECK_MESSAGE(behind.warning.find("scheduling delay grew from 2 ms to 3000 ms") != std::string::npos,
                      behind.warning);

  // Then nothing completes while batches wait.
  auto stuck = meter.report(s, 10000);
  BOOST_CHECK_MESSAGE(stuck.warning.find("no batch completed in the last 10 s while 3 wait") != std::string::npos,
                      stuck.warning);
  BOOST_CHECK_MESSAGE(stuck.line.find("0 batches in the last 10 s (16 in all)") != std::string::npos, stuck.line);
}

// The flags as a user runs an app: the UI on a free port, the progress line
// at the default log level, a bad port refused by name.
BOOST_AUTO_TEST_CASE(app_serves_its_status_and_logs_progress) {
  testing::TempDir dir;
  std::string out = dir.path + "/out.txt", err = dir.path + "/err.txt";
  int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = testing::spawn_app("network_wordcount",
                                 {"--ui-port", "0", "--progress-seconds", "1", "--duration", "4", "--batch-ms",
                                  "200", "--lines-per-batch", "100", "--print", "0"},
                                 out_fd, err_fd);
  std::smatch m;
  static const std::regex served(R"(web UI at http://127\.0\.0\.1:(\d+)/)");
  std::string log;
  BOOST_REQUIRE(testing::eventually([&] {
    log = testing::slurp(err);
    return std::regex_search(log, m, served);
  }, 20s));
  auto port = static_cast<uint16_t>(std::stoi(m[1]));
  BOOST_REQUIRE(testing::eventually([&] { return get_json(port, "/api/v1/status").get<int64_t>("batches_completed") >= 2; }, 20s));
  auto status = get_json(port, "/api/v1/status");
  BOOST_CHECK_EQUAL(status.get<int64_t>("batch_interval_ms"), 200);
  BOOST_CHECK_EQUAL(status.get<int64_t>("last_batch.input_records"), 100);  // --lines-per-batch
  BOOST_CHECK_EQUAL(testing::wait_exit(pid), 0);
  ::close(out_fd);
  ::close(err_fd);
  log = testing::slurp(err);
  BOOST_CHECK_MESSAGE(std::regex_search(log, std::regex(R"(\[info\] progress: \d+ batches in the last 1 s)")), log);

  auto bad = testing::run_app("network_wordcount", {"--ui-port", "70000"});
  BOOST_CHECK_EQUAL(bad.exit_code, 2);
  BOOST_CHECK_MESSAGE(bad.err.find("--ui-port must be -1 (off), 0 (any free port) or 1..65535, got 70000") !=
                          std::string::npos,
                      bad.err);
}
