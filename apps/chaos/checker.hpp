// The invariants tributary-chaos checks after a faulted run, against the
// failure-free reference run of the same seed:
//   - exactly-once output: every batch of the reference is published once,
//     with the same content (batches are matched by their index, counted in
//     intervals from the first batch, since batch times are wall-clock), and
//     no batch appears that the reference does not have;
//   - order: a batch is never published (renamed into place) after a batch
//     of a later time;
//   - liveness: the job reached its end;
//   - recovery: after each fault the job publishes again within the bound.
// A batch's content is its directory's files (part-*), in name order.
// With a source the runner served (a socket or Redis), which batch a line
// lands in depends on timing, so exactly-once is checked against the input
// instead: the job must keep running word counts; no batch may count a word
// more often than the input holds it, no count may fall from one batch to
// the next (an accepted record lost), and the last batch counts every line
// once ("L000042" words make each line visible).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/chaos/job_run.hpp"

namespace trib::chaos {

struct Violation {
  std::string invariant;  // exactly-once, order, liveness, recovery
  std::string text;
};

struct Recovery {
  int fault = -1;
  int64_t from_ms = -1;        // when the fault ended (or fired), from the run's start
  int64_t recovered_ms = -1;   // the first publication after it; -1: none (the job had ended, or never)
  int64_t stall_ms = 0;        // the longest time without a publication from its start to recovered_ms
  int64_t took_ms() const { return recovered_ms < 0 ? -1 : recovered_ms - from_ms; }
};

struct CheckResult {
  std::vector<Violation> violations;
  std::vector<Recovery> recoveries;
  int64_t reference_batches = 0, faulted_batches = 0, equal_batches = 0;
  int64_t max_gap_ms = 0;            // longest time without a publication, faulted run
  int64_t reference_max_gap_ms = 0;
  bool passed() const { return violations.empty(); }
};

// Every batch directory's content, by index from the run's first batch.
struct Batches {
  int64_t first_time = -1;
  std::vector<std::pair<int64_t, std::string>> by_index;  // (index, content), sorted
};
Batches read_batches(const RunRecord& run, int64_t batch_ms);

// Source runs (the runner served the input): "" if `content`, running word
// counts "(word, n)", counts every input line's words once, else what differs.
std::string compare_with_input(const std::string& content, const std::vector<std::string>& input);

CheckResult check_run(const RunRecord& reference, const RunRecord& faulted, const std::vector<Fault>& faults,
                      int64_t batch_ms, int64_t recovery_bound_ms);

}  // namespace trib::chaos
