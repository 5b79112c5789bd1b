// The report of a tributary-chaos run: one JSON file (for tools and CI) and
// one self-contained HTML page (no network: the timeline is inline SVG)
// with the verdict, the replay command, the faults, the violations and a
// timeline of faults, process exits and restarts, batches published (the
// reference run's beside the faulted run's) and stalls.
#pragma once

#include <string>
#include <vector>

#include "apps/chaos/checker.hpp"
#include "apps/chaos/job_run.hpp"
#include "apps/chaos/schedule.hpp"

namespace trib::chaos {

struct Report {
  std::string verdict;             // "pass", "fail"
  std::string replay_command;      // replays the same seed (and, after shrinking, the minimal schedule)
  std::vector<std::string> command;
  uint64_t seed = 0;
  int workers = 0;
  int64_t batch_ms = 0, batches = 0, recovery_bound_ms = 0;
  std::vector<Fault> schedule;     // every fault of the seed
  std::vector<Fault> minimal;      // after shrinking a failure (empty otherwise)
  std::vector<std::string> shrink_log;
  RunRecord reference, faulted;    // faulted: the run the check below is of
  CheckResult check;
};

std::string json_escape(const std::string& s);
std::string to_json(const Report& r);
std::string to_html(const Report& r);

// Writes report.json and report.html into `dir`; false (with `error`) if it cannot.
bool write_report(const Report& r, const std::string& dir, std::string& error);

}  // namespace trib::chaos
