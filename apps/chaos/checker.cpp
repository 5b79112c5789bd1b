#include "apps/chaos/checker.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;

namespace trib::chaos {
namespace {

std::string read_dir_content(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (!name.empty() && name[0] != '_' && name[0] != '.' && e.is_regular_file(ec)) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  std::string content;
  for (auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    content.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return content;
}

// The first line where two contents differ, for the report.
std::string first_difference(const std::string& want, const std::string& got) {
  std::istringstream a(want), b(got);
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool ha = static_cast<bool>(std::getline(a, la)), hb = static_cast<bool>(std::getline(b, lb));
    if (!ha && !hb) return "same lines, different bytes";
    if (!ha || !hb || la != lb)
      return "line " + std::to_string(line) + ": expected '" + (ha ? la : "<end>") + "', got '" + (hb ? lb : "<end>") + "'";
  }
}

int64_t max_gap(const RunRecord& run) {
  int64_t gap = 0, last = -1;
  for (auto& p : run.published) {
    if (last >= 0) gap = std::max(gap, p.seen_ms - last);
    last = p.seen_ms;
  }
  return gap;
}

}  // namespace

Batches read_batches(const RunRecord& run, int64_t batch_ms) {
  Batches b;
  for (auto& p : run.published)
    if (b.first_time < 0 || p.batch_time < b.first_time) b.first_time = p.batch_time;
  for (auto& p : run.published)
    b.by_index.emplace_back((p.batch_time - b.first_time) / batch_ms, read_dir_content(p.path));
  std::sort(b.by_index.begin(), b.by_index.end(),
            [](auto& x, auto& y) { return x.first < y.first; });
  return b;
}

CheckResult check_run(const RunRecord& reference, const RunRecord& faulted, const std::vector<Fault>& faults,
                      int64_t batch_ms, int64_t recovery_bound_ms) {
  CheckResult r;
  auto add = [&](const std::string& inv, const std::string& text) { r.violations.push_back({inv, text}); };
  Batches want = read_batches(reference, batch_ms), got = read_batches(faulted, batch_ms);
  r.reference_batches = static_cast<int64_t>(want.by_index.size());
  r.faulted_batches = static_cast<int64_t>(got.by_index.size());
  r.max_gap_ms = max_gap(faulted);
  r.reference_max_gap_ms = max_gap(reference);

  if (!faulted.finished)
    add("liveness", faulted.failure.empty() ? "the job did not reach its end" : faulted.failure);

  // Exactly once: compare batch by batch; report at most a few of each kind.
  std::map<int64_t, std::string> got_by;
  for (auto& [i, c] : got.by_index) got_by[i] = c;
  int missing = 0, differ = 0;
  for (auto& [i, content] : want.by_index) {
    auto it = got_by.find(i);
    if (it == got_by.end()) {
      if (++missing <= 5) add("exactly-once", "batch " + std::to_string(i) + " of the reference is missing");
      continue;
    }
    if (it->second != content) {
      if (++differ <= 5)
        add("exactly-once", "batch " + std::to_string(i) + " differs from the reference: " +
                                first_difference(content, it->second));
    } else {
      ++r.equal_batches;
    }
    got_by.erase(it);
  }
  if (missing > 5) add("exactly-once", std::to_string(missing - 5) + " more batches missing");
  if (differ > 5) add("exactly-once", std::to_string(differ - 5) + " more batches differ");
  for (auto& [i, c] : got_by)
    add("exactly-once", "batch " + std::to_string(i) + " was published but the reference has no such batch");

  // Order: by when each directory was renamed into place; against those
  // renamed strictly earlier (the clock's granularity can make ties).
  std::vector<Publication> by_rename = faulted.published;
  std::stable_sort(by_rename.begin(), by_rename.end(),
                   [](auto& a, auto& b) { return a.renamed_ns < b.renamed_ns; });
  int64_t max_before = -1, max_now = -1, tick = -1;
  for (auto& p : by_rename) {
    if (p.renamed_ns != tick) {
      max_before = std::max(max_before, max_now);
      tick = p.renamed_ns;
    }
    if (p.batch_time < max_before)
      add("order", "batch of time " + std::to_string(p.batch_time) + " was published after the batch of time " +
                       std::to_string(max_before));
    max_now = std::max(max_now, p.batch_time);
  }

  // Recovery: from each fault's end (or firing) to the next publication.
  for (auto& f : faults) {
    Recovery rec;
    rec.fault = f.id;
    for (auto& e : faulted.timeline)
      if (e.fault == f.id && (e.kind == "fault-end" || e.kind == "fault-fired" ||
                              (e.kind == "fault-start" && (f.kind == FaultKind::kill || f.kind == FaultKind::reset))))
        rec.from_ms = e.t_ms;
    if (rec.from_ms < 0) continue;  // never happened (the job ended first, or the rule never fired)
    int64_t began = rec.from_ms;
    for (auto& e : faulted.timeline)
      if (e.fault == f.id && (e.kind == "fault-start" || e.kind == "fault-fired")) began = e.t_ms;
    int64_t last = -1;  // the last publication before the fault began
    for (auto& p : faulted.published) {
      if (p.seen_ms <= began) {
        last = p.seen_ms;
        continue;
      }
      rec.stall_ms = std::max(rec.stall_ms, p.seen_ms - std::max(last, began));
      last = p.seen_ms;
      if (p.seen_ms > rec.from_ms) {
        rec.recovered_ms = p.seen_ms;
        break;
      }
    }
    if (rec.took_ms() > recovery_bound_ms)
      add("recovery", "after fault " + std::to_string(f.id) + " (" + f.describe() + ") the next batch took " +
                          std::to_string(rec.took_ms()) + " ms (bound " + std::to_string(recovery_bound_ms) + " ms)");
    r.recoveries.push_back(rec);
  }
  return r;
}

}  // namespace trib::chaos
