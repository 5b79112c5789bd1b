// tributary-chaos: fault-injection runs for any job built on Tributary.
// Runs the job once without faults (the reference) and once under a fault
// schedule derived only from the seed (processes killed and frozen, links
// between workers and the coordinator reset, cut, delayed and slowed, disks
// failing, tasks slowed), checks exactly-once output, order, liveness and
// recovery against the reference, shrinks a failing schedule to a minimal
// one, and writes report.json + report.html. Exit 0: every seed passed; 1:
// an invariant was violated; 2: usage or setup error.
//
//   tributary-chaos --workers 2 --seed 7 --duration 10 --
//     build/checkpointed_wordcount --checkpoint {checkpoint} --output {output}/counts
//       --mode running --seed {seed} --stop-after {batches} --batch-ms {batch_ms} {role}
//   (one command line)
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <spdlog/spdlog.h>

#include "apps/chaos/checker.hpp"
#include "apps/chaos/job_run.hpp"
#include "apps/chaos/report.hpp"
#include "apps/chaos/schedule.hpp"
#include "apps/cli.hpp"

namespace fs = std::filesystem;
using namespace trib::chaos;

namespace {

struct Options {
  std::vector<std::string> command;
  int64_t workers = 2, seed = 1, seeds = 1, duration = 10, batch_ms = 100, fault_count = 0;
  int64_t recovery_bound_ms = 30000, restart_ms = 300, shrink_runs = 12, source_lines = 0;
  SourceKind source = SourceKind::none;  // from the command's placeholders
  std::string kinds = "all", keep, out = "chaos-out", env, log_level = "info";
  bool no_shrink = false;
};

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,{}@") ==
                        std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string replay_command(const Options& o, uint64_t seed, const std::string& keep) {
  std::ostringstream c;
  c << "tributary-chaos --workers " << o.workers << " --seed " << seed << " --duration " << o.duration
    << " --batch-ms " << o.batch_ms << " --faults " << o.kinds;
  if (o.fault_count > 0) c << " --fault-count " << o.fault_count;
  if (o.source_lines > 0) c << " --source-lines " << o.source_lines;
  if (!keep.empty()) c << " --keep " << keep;
  if (!o.env.empty()) c << " --env " << shell_quote(o.env);
  c << " --recovery-bound-ms " << o.recovery_bound_ms << " --out " << shell_quote(o.out) << " --";
  for (auto& a : o.command) c << " " << shell_quote(a);
  return c.str();
}

struct SeedOutcome {
  int code = 0;  // 0 pass, 1 violation, 2 setup
  Report report;
};

SeedOutcome run_seed(const Options& o, uint64_t seed, const std::vector<FaultKind>& kinds,
                     const std::vector<int>& keep) {
  SeedOutcome out;
  Report& rep = out.report;
  std::string dir = o.out + "/seed-" + std::to_string(seed);
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) {
    spdlog::error("cannot create {}: {}", dir, ec.message());
    out.code = 2;
    return out;
  }
  RunSpec base;
  base.command = o.command;
  base.workers = static_cast<int>(o.workers);
  base.seed = seed;
  base.batch_ms = o.batch_ms;
  base.batches = std::max<int64_t>(1, o.duration * 1000 / o.batch_ms);
  base.timeout_ms = std::max<int64_t>(60000, o.duration * 6000 + 30000);
  if (o.source != SourceKind::none) {
    // The input goes out over the first 75 % of --duration; the job runs
    // 12 s longer than --duration, so that the lines are all read after
    // the last fault (at 70 % of it, for at most 6 s) in the faulted run.
    base.source = o.source;
    base.source_lines = o.source_lines > 0 ? o.source_lines : 100 * o.duration;
    base.source_spread_ms = o.duration * 750;
    base.batches = (o.duration * 1000 + 12000) / o.batch_ms;
    base.timeout_ms += 12000;
  }
  base.restart_ms = o.restart_ms;
  std::istringstream env(o.env);
  for (std::string e; std::getline(env, e, ',');)
    if (!e.empty()) base.env.push_back(e);

  ScheduleSpec sspec{seed, kinds, base.workers, o.duration * 1000, static_cast<int>(o.fault_count), base.batches,
                     o.source};
  std::vector<Fault> schedule = make_schedule(sspec);
  std::vector<Fault> faults = keep_only(schedule, keep);
  rep.command = o.command;
  rep.seed = seed;
  rep.workers = base.workers;
  rep.batch_ms = o.batch_ms;
  rep.batches = base.batches;
  rep.recovery_bound_ms = o.recovery_bound_ms;
  rep.schedule = schedule;
  rep.replay_command = replay_command(o, seed, keep.empty() ? "" : ids_text(faults));

  spdlog::info("seed {}: reference run ({} batches of {} ms, {} workers)", seed, base.batches, o.batch_ms, o.workers);
  RunSpec ref = base;
  ref.dir = dir + "/reference";
  rep.reference = run_job(ref);
  auto setup_failure = [&](const std::string& why) {
    spdlog::error("seed {}: {}", seed, why);
    rep.verdict = "setup-error";
    rep.check.violations.push_back({"setup", why});
    std::string error;
    write_report(rep, dir, error);
    out.code = 2;
    return out;
  };
  if (!rep.reference.setup_error.empty()) return setup_failure(rep.reference.setup_error);
  if (!rep.reference.finished)
    return setup_failure("the reference run (no faults) did not finish: " + rep.reference.failure + "; see " +
                         ref.dir + "/logs");
  if (rep.reference.published.empty())
    return setup_failure("the reference run published no batch directories under {output} (" + ref.dir +
                         "/output): does the command write its output there?");
  if (o.source != SourceKind::none) {
    // The reference is checked against the input itself: a job that does
    // not count every line once without faults cannot be judged under them.
    Batches b = read_batches(rep.reference, o.batch_ms);
    if (!rep.reference.source_error.empty()) return setup_failure("the reference run: " + rep.reference.source_error);
    if (auto diff = compare_with_input(b.by_index.back().second, rep.reference.input); !diff.empty())
      return setup_failure("the reference run's last batch is not the input counted once (" + diff +
                           "); source runs need a job keeping running word counts of {socket} or {redis_port} "
                           "that reads the whole input within --duration + 12 s; see " + ref.dir);
  }

  auto faulted_run = [&](const std::vector<Fault>& fs_, const std::string& name) {
    RunSpec spec = base;
    spec.faults = fs_;
    spec.dir = dir + "/" + name;
    return run_job(spec);
  };
  for (auto& f : faults) spdlog::info("seed {}: fault {}: {}", seed, f.id, f.describe());
  rep.faulted = faulted_run(faults, "faulted");
  if (!rep.faulted.setup_error.empty()) return setup_failure(rep.faulted.setup_error);
  rep.check = check_run(rep.reference, rep.faulted, faults, o.batch_ms, o.recovery_bound_ms);

  if (!rep.check.passed() && !o.no_shrink && faults.size() > 1) {
    // Shrinking: drop one fault at a time, keeping each removal after which the run still fails.
    std::vector<Fault> current = faults;
    int runs = 0;
    for (std::size_t i = 0; i < current.size() && current.size() > 1 && runs < o.shrink_runs;) {
      std::vector<Fault> fewer = current;
      fewer.erase(fewer.begin() + static_cast<long>(i));
      ++runs;
      RunRecord run = faulted_run(fewer, "shrink-" + std::to_string(runs));
      CheckResult check = check_run(rep.reference, run, fewer, o.batch_ms, o.recovery_bound_ms);
      std::string line = "without fault " + std::to_string(current[i].id) + " (" + ids_text(fewer) + "): " +
                         (check.passed() ? "passes, fault kept" : "still fails, fault dropped");
      spdlog::info("seed {}: shrink: {}", seed, line);
      rep.shrink_log.push_back(line);
      if (!check.passed()) {
        current = fewer;
        rep.faulted = run;
        rep.check = check;
      } else {
        ++i;
      }
    }
    rep.minimal = current;
    rep.replay_command = replay_command(o, seed, ids_text(current));
  } else if (!rep.check.passed()) {
    rep.minimal = faults;
  }
  rep.verdict = rep.check.passed() ? "pass" : "fail";
  std::string error;
  if (!write_report(rep, dir, error)) {
    spdlog::error("{}", error);
    out.code = 2;
    return out;
  }
  out.code = rep.check.passed() ? 0 : 1;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  // Everything after "--" is the job's command.
  int split = argc;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--") {
      split = i;
      break;
    }
  for (int i = split + 1; i < argc; ++i) o.command.push_back(argv[i]);
  trib::cli::Flags flags(
      "tributary-chaos",
      "tributary-chaos [flags] -- JOB COMMAND...: fault-injection runs of a Tributary job: a reference run, then a run under faults derived from the "
      "seed; checks exactly-once output, order, liveness and recovery; shrinks a failure to a minimal "
      "schedule; writes report.json and report.html per seed. Placeholders in the job command: {role} "
      "(--listen/--min-workers for the coordinator, --join through the fault proxy for a worker, nothing "
      "with --workers 0), {checkpoint}, {output} (batch directories must appear under it), {events}, "
      "{seed}, {batches}, {batch_ms}, {port}, {dir}, {socket} (HOST:PORT of a line server the runner runs: "
      "source faults source-close, source-hang) or {redis_port} (a redis-server it runs, stream 'events': "
      "redis-restart); with a source the job must keep running word counts. A restart that exits 3 (it "
      "refused to recover rather than lose accepted records) ends the run: a pass only when a wal-corrupt "
      "fault explains it. Exit 0: pass; 1: an invariant violated; 2: usage or "
      "setup error.");
  flags.add("workers", &o.workers, "worker processes beside the coordinator (0: a single process)")
      .add("seed", &o.seed, "the seed: input ({seed}) and fault schedule derive from it only")
      .add("seeds", &o.seeds, "run this many seeds, --seed, --seed+1, ... (a campaign)")
      .add("duration", &o.duration, "seconds of batches: {batches} = duration * 1000 / batch-ms")
      .add("batch-ms", &o.batch_ms, "the job's batch interval ({batch_ms})")
      .add("faults", &o.kinds,
           "fault kinds: kill, stop, reset, partition, oneway, delay, slow, disk, slow-task, source-close, "
           "source-hang, redis-restart, wal-corrupt (a write-ahead-log entry's bytes flip, then a crash: the "
           "restart must refuse with exit 3, which ends the run; not in 'all'), or all")
      .add("fault-count", &o.fault_count, "faults per run (0: one per 2 s of --duration)")
      .add("keep", &o.keep, "only these faults of the seed's schedule, by id (replays a minimal schedule)")
      .add("recovery-bound-ms", &o.recovery_bound_ms, "a fault must be followed by a published batch within this")
      .add("restart-ms", &o.restart_ms, "pause before restarting a process that exited (the supervisor)")
      .add("shrink-runs", &o.shrink_runs, "at most this many extra runs to shrink a failing schedule")
      .add_switch("no-shrink", &o.no_shrink, "report a failing schedule as it is")
      .add("env", &o.env, "NAME=VALUE[,NAME=VALUE...] added to every job process")
      .add("source-lines", &o.source_lines,
           "with {socket} or {redis_port}: lines of input the runner serves (0: 100 per second of --duration)")
      .add("out", &o.out, "directory for runs and reports (seed-N/report.html)")
      .add("log-level", &o.log_level, "trace, debug, info, warn, error or off");
  int flag_argc = split;
  if (int code = trib::cli::parse_or_exit_code(flags, flag_argc, argv); code >= 0) return code;
  auto usage_error = [&](const std::string& what) { return trib::cli::usage_error(flags, what); };
  if (!trib::cli::init_logging(o.log_level)) return usage_error("unknown --log-level '" + o.log_level + "'");
  if (o.command.empty()) return usage_error("no job command: give it after '--'");
  if (o.workers < 0 || o.workers > 16) return usage_error("--workers must be 0..16");
  if (o.duration <= 0 || o.batch_ms <= 0 || o.seeds <= 0 || o.seed < 0 || o.fault_count < 0)
    return usage_error("--duration, --batch-ms and --seeds must be positive, --seed and --fault-count >= 0");
  bool has_role = std::find(o.command.begin(), o.command.end(), "{role}") != o.command.end();
  if (o.workers > 0 && !has_role)
    return usage_error("--workers " + std::to_string(o.workers) +
                       " needs {role} in the job command (where --listen/--join go)");
  bool has_output = false;
  for (auto& a : o.command) has_output = has_output || a.find("{output}") != std::string::npos;
  if (!has_output) return usage_error("the job command must write its batches under {output}");
  for (auto& a : o.command) {
    if (a.find("{socket}") != std::string::npos) o.source = SourceKind::socket;
    if (a.find("{redis_port}") != std::string::npos) o.source = SourceKind::redis;
  }
  if (o.source_lines < 0) return usage_error("--source-lines must be >= 0");
  std::string error;
  auto kinds = parse_kinds(o.kinds, error);
  if (!error.empty()) return usage_error("--faults: " + error);
  // Ctrl-C: the runner's children are in process groups of their own, so
  // the runner ends them before it exits.
  std::signal(SIGINT, [](int) { interrupt_runs(); });
  std::signal(SIGTERM, [](int) { interrupt_runs(); });
  std::vector<int> keep;
  if (!parse_ids(o.keep, keep)) return usage_error("--keep must be fault ids like 0,3,5, got '" + o.keep + "'");

  int worst = 0;
  std::map<std::string, int> by_kind;
  int violations = 0, passed = 0, refused = 0;
  std::vector<int64_t> recoveries;
  std::ostringstream summary;
  summary << "{\"seeds\":[";
  for (int64_t s = o.seed; s < o.seed + o.seeds; ++s) {
    SeedOutcome r = run_seed(o, static_cast<uint64_t>(s), kinds, keep);
    if (r.code == 2) return 2;
    worst = std::max(worst, r.code);
    const Report& rep = r.report;
    passed += r.code == 0;
    refused += !rep.faulted.refused.empty();
    violations += static_cast<int>(rep.check.violations.size());
    for (auto& e : rep.faulted.timeline)
      if (e.kind == "fault-start" || e.kind == "fault-fired")
        for (auto& f : rep.schedule)
          if (f.id == e.fault) ++by_kind[to_string(f.kind)];
    for (auto& rc : rep.check.recoveries)
      if (rc.took_ms() >= 0) recoveries.push_back(rc.took_ms());
    std::string report = o.out + "/seed-" + std::to_string(s) + "/report.html";
    std::printf("seed %lld: %s (%zu faults, %zu violations%s) %s\n", static_cast<long long>(s),
                rep.verdict.c_str(), rep.minimal.empty() ? rep.schedule.size() : rep.minimal.size(),
                rep.check.violations.size(), rep.faulted.refused.empty() ? "" : "; a restart refused to recover",
                report.c_str());
    for (auto& v : rep.check.violations) std::printf("  %s: %s\n", v.invariant.c_str(), v.text.c_str());
    if (r.code == 1) {
      std::printf("  minimal schedule:");
      for (auto& f : rep.minimal) std::printf(" [%d] %s;", f.id, f.describe().c_str());
      std::printf("\n  replay: %s\n", rep.replay_command.c_str());
    }
    std::fflush(stdout);
    summary << (s > o.seed ? "," : "") << "{\"seed\":" << s << ",\"verdict\":\"" << rep.verdict
            << "\",\"violations\":" << rep.check.violations.size() << "}";
  }
  std::sort(recoveries.begin(), recoveries.end());
  std::string kinds_line;
  for (auto& [k, n] : by_kind) kinds_line += (kinds_line.empty() ? "" : ", ") + k + " " + std::to_string(n);
  summary << "],\"passed\":" << passed << ",\"violations\":" << violations << ",\"refused\":" << refused
          << ",\"faults_by_kind\":{";
  bool first = true;
  for (auto& [k, n] : by_kind) {
    summary << (first ? "" : ",") << "\"" << k << "\":" << n;
    first = false;
  }
  int64_t median = recoveries.empty() ? -1 : recoveries[recoveries.size() / 2];
  int64_t worst_rec = recoveries.empty() ? -1 : recoveries.back();
  summary << "},\"recovery_median_ms\":" << median << ",\"recovery_worst_ms\":" << worst_rec << "}\n";
  std::ofstream(o.out + "/summary.json") << summary.str();
  std::string refused_line = refused ? "; " + std::to_string(refused) + " runs ended by a refused recovery" : "";
  std::printf("%lld seeds: %d passed, %d invariant violations; faults injected: %s%s; recovery median %lld ms, "
              "worst %lld ms (%s/summary.json)\n",
              static_cast<long long>(o.seeds), passed, violations, kinds_line.empty() ? "none" : kinds_line.c_str(),
              refused_line.c_str(),
              static_cast<long long>(median), static_cast<long long>(worst_rec), o.out.c_str());
  return worst;
}
