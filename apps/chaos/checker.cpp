#include "apps/chaos/checker.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <functional>
#include <sstream>

#include "apps/chaos/source.hpp"

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


// "(word, 12)" lines into counts; false if a line is not of that form.
bool parse_counts(const std::string& content, std::map<std::string, int64_t>& counts) {
  std::istringstream in(content);
  for (std::string line; std::getline(in, line);) {
    auto comma = line.rfind(", ");
    if (line.size() < 5 || line.front() != '(' || line.back() != ')' || comma == std::string::npos) return false;
    std::string n = line.substr(comma + 2, line.size() - comma - 3);
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos) return false;
    counts[line.substr(1, comma - 1)] = std::stoll(n);
  }
  return true;
}

std::string times(int64_t n) { return n == 1 ? "once" : std::to_string(n) + " times"; }

}  // namespace

std::string compare_with_input(const std::string& content, const std::vector<std::string>& input) {
  std::map<std::string, int64_t> got;
  if (!parse_counts(content, got)) return "its lines are not running word counts '(word, n)'";
  auto want = word_counts(input);
  int64_t lines_missing = 0, lines_doubled = 0;
  std::string first;
  for (auto& [w, n] : want) {
    auto it = got.find(w);
    int64_t g = it == got.end() ? 0 : it->second;
    if (g == n) continue;
    if (w.size() == 7 && w[0] == 'L') (g < n ? lines_missing : lines_doubled) += 1;
    if (first.empty()) first = "'" + w + "' counted " + times(g) + ", the input holds it " + times(n);
  }
  for (auto& [w, n] : got)
    if (!want.count(w) && first.empty()) first = "'" + w + "' counted " + times(n) + ", the input does not hold it";
  if (first.empty()) return {};
  return first + " (" + std::to_string(lines_missing) + " of " + std::to_string(input.size()) +
         " lines missing, " + std::to_string(lines_doubled) + " counted more than once)";
}

namespace {

// Source runs: a line's batch depends on when it arrived, so batches cannot
// be matched with the reference's. The job keeps running counts: every
// batch must count no word more often than the input holds it (a line
// counted twice), no count may fall from one batch to the next (a record
// accepted and later lost), and the last batch must count every line once
// (unless the run ended early: `complete` false).
void check_source(const Batches& got, const std::vector<std::string>& input, bool complete,
                  const std::function<void(const std::string&, const std::string&)>& add) {
  if (got.by_index.empty()) return;
  auto want = word_counts(input);
  std::map<std::string, int64_t> previous;
  int reported = 0;
  for (auto& [index, content] : got.by_index) {
    std::map<std::string, int64_t> counts;
    if (!parse_counts(content, counts)) {
      add("exactly-once", "batch " + std::to_string(index) + " is not running word counts '(word, n)': the "
                          "runner checks source runs of running counts only");
      return;
    }
    for (auto& [w, n] : counts) {
      auto it = want.find(w);
      if ((it == want.end() || n > it->second) && ++reported <= 5)
        add("exactly-once", "batch " + std::to_string(index) + " counts '" + w + "' " + times(n) +
                                ", the input holds it " + times(it == want.end() ? 0 : it->second));
    }
    for (auto& [w, n] : previous) {
      auto it = counts.find(w);
      int64_t now = it == counts.end() ? 0 : it->second;
      if (now < n && ++reported <= 5)
        add("lost", "batch " + std::to_string(index) + " counts '" + w + "' " + times(now) +
                        ", an earlier batch counted it " + times(n) + ": an accepted record was lost");
    }
    previous = std::move(counts);
  }
  if (reported > 5) add("exactly-once", std::to_string(reported - 5) + " more wrong counts");
  if (!complete) return;
  if (auto diff = compare_with_input(got.by_index.back().second, input); !diff.empty())
    add("exactly-once", "the last batch (" + std::to_string(got.by_index.back().first) + ") is not the input counted once: " + diff);
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

  // A restart that refused to recover (it would have lost accepted records)
  // ends the run early. Correct only when a fault of the schedule damaged
  // what it reads back; then the batches published before are still checked.
  bool refused = !faulted.refused.empty();
  if (refused) {
    bool explained = false;
    for (auto& f : faults)
      explained = explained || (f.kind == FaultKind::wal_corrupt &&
                                std::find(faulted.fired.begin(), faulted.fired.end(), f.id) != faulted.fired.end());
    if (!explained)
      add("liveness", "a restart refused to recover, but no fault of this schedule corrupted what it reads back: " +
                          faulted.refused);
  } else if (!faulted.finished) {
    add("liveness", faulted.failure.empty() ? "the job did not reach its end" : faulted.failure);
  }
  int64_t last_published = got.by_index.empty() ? -1 : got.by_index.back().first;

  if (!faulted.input.empty()) {
    check_source(got, faulted.input, /*complete=*/!refused, add);
    if (!faulted.source_error.empty()) add("source", faulted.source_error);
  } else {
    // Exactly once: compare batch by batch; report at most a few of each kind.
    std::map<int64_t, std::string> got_by;
    for (auto& [i, c] : got.by_index) got_by[i] = c;
    int missing = 0, differ = 0;
    for (auto& [i, content] : want.by_index) {
      auto it = got_by.find(i);
      if (it == got_by.end()) {
        if (refused && i > last_published) continue;  // the run ended before it
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
  }

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
    if (f.kind == FaultKind::source_close || f.kind == FaultKind::source_hang) {
      // Batches go on while the source is away: recovery is the receiver
      // connecting again (after the close, or after its idle timeout).
      for (auto& e : faulted.timeline)
        if (e.fault == f.id && e.kind == "fault-start") rec.from_ms = e.t_ms;
      if (rec.from_ms < 0) continue;
      for (auto& e : faulted.timeline)
        if (e.kind == "source" && e.t_ms >= rec.from_ms && e.text.rfind("connection:", 0) == 0) {
          rec.recovered_ms = e.t_ms;
          break;
        }
      rec.stall_ms = std::max<int64_t>(0, rec.took_ms());
      if (rec.took_ms() > recovery_bound_ms || rec.recovered_ms < 0)
        add("recovery", "after fault " + std::to_string(f.id) + " (" + f.describe() + ") the receiver " +
                            (rec.recovered_ms < 0 ? std::string("never connected again")
                                                  : "connected again only after " + std::to_string(rec.took_ms()) + " ms"));
      r.recoveries.push_back(rec);
      continue;
    }
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
