// tributary-chaos, the fault-injection runner: its parts (the seed's
// schedule, fault rules, the fault proxy on real sockets) and the runner
// itself on checkpointed_wordcount with a coordinator and workers as real
// processes. The runner must pass a correct job (and its faulted output must
// equal a plain count of the generator's lines, an oracle independent of the
// runner), and must fail, with a minimal schedule, the same job with a bug
// planted through a test hook (TRIB_BUG_SKIP_REPLAYED_BATCH: a restored
// generator skips a batch). Source faults: the runner's line server feeds
// checkpointed_wordcount's socket source through closes, a silent server and
// coordinator kills, and the last batch must count every line once; with a
// planted bug in the server's resume protocol the runner must fail.
#define BOOST_TEST_MODULE chaos
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <filesystem>
#include <fstream>
#include <map>

#include "apps/chaos/checker.hpp"
#include "apps/chaos/proxy.hpp"
#include "apps/chaos/schedule.hpp"
#include "apps/chaos/source.hpp"
#include "oracle.hpp"
#include "process.hpp"
#include "recovery/fault_injection.hpp"
#include "temp_dir.hpp"
#include "wordcount_job.hpp"

using namespace trib::chaos;

namespace {

std::string describe_all(const std::vector<Fault>& faults) {
  std::string s;
  for (auto& f : faults) s += f.describe() + (f.rule.empty() ? "" : " " + f.rule) + "; ";
  return s;
}

ScheduleSpec spec_of(uint64_t seed, const std::string& kinds, int workers) {
  std::string error;
  ScheduleSpec s;
  s.seed = seed;
  s.kinds = parse_kinds(kinds, error);
  BOOST_REQUIRE(error.empty());
  s.workers = workers;
  s.duration_ms = 10000;
  s.batches = 100;
  return s;
}

// A listening socket on 127.0.0.1 and its port.
int listen_any(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(fd, 4);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// Bytes readable from fd within `ms` (empty on timeout); "EOF" when closed.
std::string read_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return {};
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n <= 0 ? "EOF" : std::string(buf, static_cast<std::size_t>(n));
}

// The report's verdict field, read as text (the JSON is one line per report).
std::string field(const std::string& json, const std::string& name) {
  auto p = json.find("\"" + name + "\":");
  if (p == std::string::npos) return {};
  p += name.size() + 3;
  if (json[p] == '"') return json.substr(p + 1, json.find('"', p + 1) - p - 1);
  return json.substr(p, json.find_first_of(",}", p) - p);
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_schedule_derives_only_from_the_seed) {
  auto a = make_schedule(spec_of(7, "all", 2)), b = make_schedule(spec_of(7, "all", 2));
  BOOST_TEST(describe_all(a) == describe_all(b));
  BOOST_TEST(a.size() == 5u);  // one per 2 s of 10 s
  BOOST_TEST(describe_all(a) != describe_all(make_schedule(spec_of(8, "all", 2))));
  // Without workers there is no link to break: only process and disk faults.
  for (uint64_t seed = 1; seed < 30; ++seed)
    for (auto& f : make_schedule(spec_of(seed, "all", 0))) {
      BOOST_TEST(f.target == 0);
      BOOST_TEST((f.kind == FaultKind::kill || f.kind == FaultKind::stop || f.kind == FaultKind::disk ||
                  f.kind == FaultKind::slow_task));
    }
  // Every in-engine rule the schedule makes is one the engine accepts.
  for (uint64_t seed = 1; seed < 30; ++seed)
    for (auto& f : make_schedule(spec_of(seed, "disk,slow-task", 2))) {
      std::vector<std::string> errors;
      BOOST_TEST(trib::parse_fault_rules(f.rule, &errors).size() == 1u, f.rule);
      BOOST_TEST(errors.empty(), f.rule);
    }
  auto kept = keep_only(a, {1, 3});
  BOOST_REQUIRE(kept.size() == 2u);
  BOOST_TEST(kept[0].id == 1);
  BOOST_TEST(ids_text(kept) == "1,3");
  std::string error;
  parse_kinds("kill,explode", error);
  BOOST_TEST(error.find("explode") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(fault_rules_parse_and_name_what_is_wrong) {
  std::vector<std::string> errors;
  auto rules = trib::parse_fault_rules("durable-write=enospc@3, task=delay:200@2x*;wal-append=corrupt", &errors);
  BOOST_REQUIRE(rules.size() == 3u);
  BOOST_TEST(errors.empty());
  BOOST_TEST(rules[0].point == "durable-write");
  BOOST_TEST(rules[0].first == 3);
  BOOST_TEST(rules[0].count == 1);
  BOOST_TEST(rules[0].hit.error == ENOSPC);
  BOOST_TEST(rules[1].hit.delay_ms == 200);
  BOOST_TEST(rules[1].count == -1);
  BOOST_TEST(rules[2].first == 1);
  trib::parse_fault_rules("durable-write=melt,task=delay,=crash,x=crash@0", &errors);
  BOOST_REQUIRE(errors.size() == 4u);
  BOOST_TEST(errors[0].find("unknown action 'melt'") != std::string::npos);
  BOOST_TEST(errors[1].find("milliseconds") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_proxy_forwards_holds_and_resets) {
  uint16_t port = 0;
  int server = listen_any(port);
  FaultProxy proxy(port);
  int client = connect_to(proxy.port());
  int accepted = ::accept(server, nullptr, nullptr);
  BOOST_REQUIRE(accepted >= 0);
  ::send(client, "ping", 4, 0);
  BOOST_TEST(read_within(accepted, 2000) == "ping");
  ::send(accepted, "pong", 4, 0);
  BOOST_TEST(read_within(client, 2000) == "pong");
  // One way: worker -> coordinator held, the other way still flows.
  proxy.hold(true, false);
  ::send(client, "held", 4, 0);
  ::send(accepted, "back", 4, 0);
  BOOST_TEST(read_within(client, 2000) == "back");
  BOOST_TEST(read_within(accepted, 300).empty());
  proxy.heal();
  BOOST_TEST(read_within(accepted, 2000) == "held");  // held, not lost
  proxy.set_delay_ms(300);
  auto sent = std::chrono::steady_clock::now();
  ::send(client, "late", 4, 0);
  BOOST_TEST(read_within(accepted, 2000) == "late");
  BOOST_TEST((std::chrono::steady_clock::now() - sent >= std::chrono::milliseconds(300)));
  proxy.heal();
  proxy.reset();
  BOOST_TEST(read_within(client, 2000) == "EOF");
  BOOST_TEST(read_within(accepted, 2000) == "EOF");
  ::close(client);
  ::close(accepted);
  ::close(server);
}

namespace {

const testing::WordcountJob kJob = [] {
  testing::WordcountJob job;
  job.batch_ms = 100;
  job.lines_per_batch = 300;
  job.total_lines = 1000000;
  job.batches = 40;
  return job;
}();

// tributary-chaos over checkpointed_wordcount (running counts), 4 s of 100 ms batches.
testing::ProcessResult chaos(const std::string& out, int workers, uint64_t seed, const std::string& kinds,
                             int faults, const std::vector<std::string>& more = {}) {
  std::vector<std::string> args = {"--workers", std::to_string(workers), "--seed", std::to_string(seed),
                                   "--duration", "4", "--batch-ms", "100", "--faults", kinds,
                                   "--fault-count", std::to_string(faults), "--out", out, "--log-level", "warn"};
  args.insert(args.end(), more.begin(), more.end());
  for (std::string a : std::vector<std::string>{"--", testing::bin_dir() + "/checkpointed_wordcount", "--checkpoint", "{checkpoint}",
                        "--output", "{output}/out", "--mode", "running", "--batch-ms", "{batch_ms}",
                        "--lines-per-batch", "300", "--stop-after", "{batches}", "--log-level", "warn", "{role}"})
    args.push_back(a);
  return testing::run_app("tributary-chaos", args);
}

// A seed whose schedule kills the coordinator among other faults.
uint64_t seed_killing_the_coordinator(const std::string& kinds, int workers, int faults) {
  for (uint64_t seed = 1;; ++seed) {
    ScheduleSpec s = spec_of(seed, kinds, workers);
    s.duration_ms = 4000;
    s.batches = 40;
    s.faults = faults;
    auto schedule = make_schedule(s);
    int kills = 0;
    for (auto& f : schedule) kills += f.kind == FaultKind::kill && f.target == 0;
    if (kills == 1) return seed;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_correct_job_passes_and_its_output_is_a_plain_count) {
  testing::TempDir dir;
  uint64_t seed = seed_killing_the_coordinator("kill,stop,partition,reset", 2, 3);
  auto r = chaos(dir.path, 2, seed, "kill,stop,partition,reset", 3);
  BOOST_TEST_MESSAGE(r.out << r.err);
  BOOST_TEST(r.exit_code == 0);
  std::string seed_dir = dir.path + "/seed-" + std::to_string(seed);
  std::string report = testing::slurp(seed_dir + "/report.json");
  BOOST_TEST(field(report, "verdict") == "pass");
  BOOST_TEST(field(report, "equal_batches") == "40");
  BOOST_TEST(report.find("\"kind\":\"fault-start\"") != std::string::npos, "faults were injected");
  BOOST_TEST(testing::slurp(seed_dir + "/report.html").find("<svg") != std::string::npos);
  // The runner's verdict against an oracle of our own: every batch of the
  // faulted run is the running count of the generator's lines so far.
  auto out = testing::read_output(seed_dir + "/faulted/output");
  BOOST_TEST(out.size() == 40u);
  kJob.check_against_oracle("running", out);
}

BOOST_AUTO_TEST_CASE(a_planted_bug_fails_with_a_minimal_schedule) {
  testing::TempDir dir;
  const std::string kinds = "kill,stop,partition";
  uint64_t seed = seed_killing_the_coordinator(kinds, 1, 3);
  auto r = chaos(dir.path, 1, seed, kinds, 3, {"--env", "TRIB_BUG_SKIP_REPLAYED_BATCH=1"});
  BOOST_TEST_MESSAGE(r.out << r.err);
  BOOST_TEST(r.exit_code == 1);
  std::string report = testing::slurp(dir.path + "/seed-" + std::to_string(seed) + "/report.json");
  BOOST_TEST(field(report, "verdict") == "fail");
  BOOST_TEST(report.find("\"invariant\":\"exactly-once\"") != std::string::npos);
  // Shrunk to the one fault that restarts from a checkpoint: the coordinator's kill.
  auto minimal = report.substr(report.find("\"minimal_schedule\":"));
  minimal = minimal.substr(0, minimal.find(']'));
  BOOST_TEST(minimal.find("\"kind\":\"kill\",\"target\":\"coordinator\"") != std::string::npos, minimal);
  BOOST_TEST(std::count(minimal.begin(), minimal.end(), '{') == 1, minimal);
  BOOST_TEST(r.out.find("replay: tributary-chaos") != std::string::npos);
  BOOST_TEST(r.out.find("--keep") != std::string::npos);

  // The same seed without the bug passes (no shrinking needed, no runs spent on it).
  testing::TempDir clean;
  BOOST_TEST(chaos(clean.path, 1, seed, kinds, 3).exit_code == 0);
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2_and_say_what_is_wrong) {
  auto r = testing::run_app("tributary-chaos", {"--workers", "2"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("no job command") != std::string::npos);
  r = testing::run_app("tributary-chaos", {"--workers", "2", "--", "true", "{output}"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("{role}") != std::string::npos);
  r = testing::run_app("tributary-chaos", {"--faults", "kill,boom", "--", "true", "{output}", "{role}"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("boom") != std::string::npos);
  // A job that publishes nothing is a setup error, not a pass.
  testing::TempDir dir;
  r = testing::run_app("tributary-chaos", {"--workers", "0", "--duration", "1", "--out", dir.path, "--", "true", "{output}"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("published no batch") != std::string::npos);
  // A job command its app rejects is a setup error at once, not 30 restarts.
  testing::TempDir bad;
  r = testing::run_app("tributary-chaos", {"--workers", "0", "--duration", "1", "--out", bad.path, "--",
                                           testing::bin_dir() + "/checkpointed_wordcount", "--bogus", "{output}",
                                           "{role}"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("coordinator exited 2 (a usage error) at its first start") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("--bogus") != std::string::npos, r.err);
  BOOST_TEST(testing::run_app("tributary-chaos", {"--help"}).exit_code == 0);
}

// The suite's short campaign: a few seeds of every fault kind on a
// coordinator and two workers; each faulted run's output must also be the
// plain count.
BOOST_AUTO_TEST_CASE(a_short_campaign_of_every_fault_kind_passes) {
  testing::TempDir dir;
  auto r = chaos(dir.path, 2, 100, "all", 3, {"--seeds", "3"});
  BOOST_TEST_MESSAGE(r.out << r.err);
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(field(testing::slurp(dir.path + "/summary.json"), "passed") == "3");
  for (int seed = 100; seed < 103; ++seed) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      auto out = testing::read_output(dir.path + "/seed-" + std::to_string(seed) + "/faulted/output");
      BOOST_TEST(out.size() == 40u);
      kJob.check_against_oracle("running", out);
    }
  }
}

namespace {

// A faulted run whose batches (running counts, by batch time) are `batches`.
RunRecord source_run(const std::string& dir, const std::vector<std::string>& input,
                     const std::vector<std::map<std::string, int64_t>>& batches) {
  RunRecord run;
  run.finished = true;
  run.input = input;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    std::string d = dir + "/out-" + std::to_string(1000 + 100 * i);
    std::filesystem::create_directories(d);
    std::ofstream part(d + "/part-00000");
    for (auto& [w, n] : batches[i]) part << "(" << w << ", " << n << ")\n";
    run.published.push_back({static_cast<int64_t>(1000 + 100 * i), static_cast<int64_t>(100 * i), d,
                             static_cast<int64_t>(i + 1)});
  }
  return run;
}

bool has_violation(const CheckResult& r, const std::string& invariant, const std::string& text) {
  for (auto& v : r.violations)
    if (v.invariant == invariant && v.text.find(text) != std::string::npos) return true;
  return false;
}

std::string all_violations(const CheckResult& r) {
  std::string s;
  for (auto& v : r.violations) s += v.invariant + ": " + v.text + "\n";
  return s;
}

}  // namespace

// The source check against the input itself: a line counted twice, a count
// that falls (an accepted record lost) and a line never counted all fail.
BOOST_AUTO_TEST_CASE(the_source_check_catches_doubled_lost_and_missing_lines) {
  std::vector<std::string> input = {source_line(5, 0), source_line(5, 1), source_line(5, 2)};
  BOOST_TEST(input[1].rfind("L000001 ", 0) == 0u, input[1]);
  auto upto = [&](std::size_t n) { return oracle::word_counts(std::vector<std::string>(input.begin(), input.begin() + n)); };
  auto check = [&](const std::vector<std::map<std::string, int64_t>>& batches) {
    testing::TempDir dir;
    RunRecord run = source_run(dir.path, input, batches);
    return check_run(run, run, {}, 100, 30000);
  };
  auto good = check({upto(1), upto(2), upto(3)});
  BOOST_TEST(good.passed(), all_violations(good));

  auto doubled = upto(3);
  doubled["L000001"] = 2;
  auto r = check({upto(1), doubled, doubled});
  BOOST_TEST(has_violation(r, "exactly-once", "counts 'L000001' 2 times, the input holds it once"), all_violations(r));
  BOOST_TEST(has_violation(r, "exactly-once", "0 of 3 lines missing, 1 counted more than once"), all_violations(r));

  auto fell = upto(2);
  fell.erase("L000001");
  r = check({upto(2), fell, upto(3)});
  BOOST_TEST(has_violation(r, "lost", "counts 'L000001' 0 times, an earlier batch counted it once"), all_violations(r));

  r = check({upto(1), upto(2), upto(2)});
  BOOST_TEST(has_violation(r, "exactly-once", "1 of 3 lines missing"), all_violations(r));
}

namespace {

// tributary-chaos over checkpointed_wordcount reading the runner's line server.
testing::ProcessResult socket_chaos(const std::string& out, uint64_t seed, const std::string& kinds, int faults,
                                    const std::vector<std::string>& more = {},
                                    const std::vector<std::string>& env = {}) {
  std::vector<std::string> args = {"--workers", "0", "--seed", std::to_string(seed), "--duration", "4",
                                   "--faults", kinds, "--fault-count", std::to_string(faults), "--no-shrink",
                                   "--out", out, "--log-level", "warn"};
  args.insert(args.end(), more.begin(), more.end());
  for (std::string a : std::vector<std::string>{"--", testing::bin_dir() + "/checkpointed_wordcount", "--checkpoint",
                        "{checkpoint}", "--output", "{output}/out", "--mode", "running", "--batch-ms", "{batch_ms}",
                        "--stop-after", "{batches}", "--source", "socket://{socket}?idle-timeout-ms=600",
                        "--log-level", "warn", "{role}"})
    args.push_back(a);
  return testing::run_app("tributary-chaos", args, env);
}

// A seed whose socket schedule kills the (only) process and has source faults.
uint64_t socket_seed(const std::string& kinds, int faults) {
  for (uint64_t seed = 1;; ++seed) {
    std::string error;
    ScheduleSpec s;
    s.seed = seed;
    s.kinds = parse_kinds(kinds, error);
    s.duration_ms = 4000;
    s.batches = 160;
    s.faults = faults;
    s.source = SourceKind::socket;
    int kills = 0, source = 0;
    for (auto& f : make_schedule(s)) {
      kills += f.kind == FaultKind::kill;
      source += f.on_source();
    }
    if (kills == 1 && source >= 1) return seed;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(source_faults_on_a_socket_keep_exactly_once_and_a_planted_resume_bug_fails) {
  const std::string kinds = "kill,source-close,source-hang";
  uint64_t seed = socket_seed(kinds, 3);
  testing::TempDir dir;
  auto r = socket_chaos(dir.path, seed, kinds, 3);
  BOOST_TEST_MESSAGE(r.out << r.err);
  BOOST_TEST(r.exit_code == 0);
  std::string seed_dir = dir.path + "/seed-" + std::to_string(seed);
  std::string report = testing::slurp(seed_dir + "/report.json");
  BOOST_TEST(field(report, "verdict") == "pass");
  // Both ways of resuming were taken: after the kill from the new process's
  // write-ahead log, after a close or an idle timeout from the same process
  // (the input ends after 3 s and the receiver's idle timeout is 0.6 s).
  BOOST_TEST(report.find("its write-ahead log ends at line") != std::string::npos);
  BOOST_TEST(report.find("the same process") != std::string::npos);
  // Our own oracle: the faulted run's last batch counts the seed's lines once.
  std::vector<std::string> lines;
  for (int64_t i = 0; i < 400; ++i) lines.push_back(source_line(seed, i));  // --duration 4: 100 lines a second
  auto out = testing::read_output(seed_dir + "/faulted/output");
  BOOST_REQUIRE(!out.empty());
  BOOST_TEST(out.back().second == testing::WordcountJob::as_text(oracle::word_counts(lines)));

  // A naive replayable source serving a restarted job everything again:
  // lines its write-ahead log holds are counted twice, and the runner says so.
  testing::TempDir bug;
  r = socket_chaos(bug.path, seed, kinds, 3, {}, {"TRIB_CHAOS_BUG_REPLAY_FROM_START=1"});
  BOOST_TEST_MESSAGE(r.out << r.err);
  BOOST_TEST(r.exit_code == 1);
  report = testing::slurp(bug.path + "/seed-" + std::to_string(seed) + "/report.json");
  BOOST_TEST(field(report, "verdict") == "fail");
  BOOST_TEST(report.find("counted more than once") != std::string::npos, report.substr(0, 3000));
}

// A run that ended because a restart refused to recover: a pass only when a
// fired wal-corrupt fault explains it, and the batches before still count.
BOOST_AUTO_TEST_CASE(a_refused_recovery_passes_only_when_a_corrupting_fault_explains_it) {
  std::vector<std::string> input = {source_line(5, 0), source_line(5, 1), source_line(5, 2)};
  auto upto = [&](std::size_t n) { return oracle::word_counts(std::vector<std::string>(input.begin(), input.begin() + n)); };
  testing::TempDir dir;
  RunRecord run = source_run(dir.path, input, {upto(1), upto(2)});  // the third line never counted
  run.finished = false;
  run.refused = "write-ahead log wal-0-0.log: corrupt entry at byte 8";
  Fault corrupt;
  corrupt.id = 0;
  corrupt.kind = FaultKind::wal_corrupt;

  auto r = check_run(run, run, {corrupt}, 100, 30000);  // it never fired
  BOOST_TEST(has_violation(r, "liveness", "no fault of this schedule corrupted"), all_violations(r));

  run.fired = {0};
  r = check_run(run, run, {corrupt}, 100, 30000);
  BOOST_TEST(r.passed(), all_violations(r));

  auto fell = upto(2);
  fell.erase("L000001");
  RunRecord lost = source_run(dir.path + "/lost", input, {upto(2), fell});
  lost.finished = false;
  lost.refused = run.refused;
  lost.fired = {0};
  r = check_run(lost, lost, {corrupt}, 100, 30000);
  BOOST_TEST(has_violation(r, "lost", "counts 'L000001' 0 times"), all_violations(r));
}

BOOST_AUTO_TEST_CASE(a_corrupt_write_ahead_log_entry_is_refused_and_a_job_that_ignores_it_fails) {
  // Seed 1's one wal-corrupt fault flips an entry's bytes on the 34th append
  // and kills the process once that entry is on disk: its restart must read
  // the entry back, whatever the machine's speed.
  testing::TempDir dir;
  auto r = socket_chaos(dir.path, 1, "wal-corrupt", 1);
  BOOST_TEST_MESSAGE(r.out << r.err);
  BOOST_TEST(r.exit_code == 0);
  std::string report = testing::slurp(dir.path + "/seed-1/report.json");
  BOOST_TEST(field(report, "verdict") == "pass");
  // The restart refused (exit 3) and said which entry of which file.
  BOOST_TEST(report.find("\"kind\":\"refused\"") != std::string::npos, report.substr(0, 3000));
  BOOST_TEST(report.find("checkpoint/wal-0-0.log: corrupt entry at byte") != std::string::npos);

  // The engine as it was before: a corrupt entry's records dropped with a
  // log line. The runner finds the lines that never reached a batch.
  testing::TempDir bug;
  r = socket_chaos(bug.path, 1, "wal-corrupt", 1, {}, {"TRIB_BUG_IGNORE_WAL_CORRUPTION=1"});
  BOOST_TEST_MESSAGE(r.out << r.err);
  BOOST_TEST(r.exit_code == 1);
  report = testing::slurp(bug.path + "/seed-1/report.json");
  BOOST_TEST(field(report, "verdict") == "fail");
  BOOST_TEST(report.find("lines missing") != std::string::npos, report.substr(0, 3000));
}
