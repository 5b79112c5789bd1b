#include "apps/chaos/report.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

namespace trib::chaos {
namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string q(const std::string& s) { return "\"" + json_escape(s) + "\""; }

std::string fault_json(const Fault& f) {
  std::ostringstream o;
  o << "{\"id\":" << f.id << ",\"kind\":" << q(to_string(f.kind)) << ",\"target\":" << q(target_name(f.target))
    << ",\"at_ms\":" << f.at_ms << ",\"duration_ms\":" << f.duration_ms << ",\"param\":" << f.param
    << ",\"rule\":" << q(f.rule) << ",\"describe\":" << q(f.describe()) << "}";
  return o.str();
}

std::string faults_json(const std::vector<Fault>& faults) {
  std::string out = "[";
  for (std::size_t i = 0; i < faults.size(); ++i) out += (i ? "," : "") + fault_json(faults[i]);
  return out + "]";
}

std::string run_json(const RunRecord& run, int64_t batch_ms) {
  std::ostringstream o;
  o << "{\"finished\":" << (run.finished ? "true" : "false") << ",\"failure\":" << q(run.failure)
    << ",\"refused\":" << q(run.refused)
    << ",\"elapsed_ms\":" << run.elapsed_ms << ",\"output_dir\":" << q(run.output_dir) << ",\"published\":[";
  int64_t first = -1;
  for (auto& p : run.published) first = first < 0 ? p.batch_time : std::min(first, p.batch_time);
  for (std::size_t i = 0; i < run.published.size(); ++i) {
    auto& p = run.published[i];
    o << (i ? "," : "") << "{\"index\":" << (p.batch_time - first) / batch_ms << ",\"batch_time\":" << p.batch_time
      << ",\"seen_ms\":" << p.seen_ms << "}";
  }
  o << "],\"timeline\":[";
  for (std::size_t i = 0; i < run.timeline.size(); ++i) {
    auto& e = run.timeline[i];
    o << (i ? "," : "") << "{\"t_ms\":" << e.t_ms << ",\"kind\":" << q(e.kind) << ",\"target\":" << q(e.target)
      << ",\"text\":" << q(e.text) << ",\"fault\":" << e.fault << "}";
  }
  o << "]}";
  return o.str();
}

std::vector<int64_t> recovery_times(const CheckResult& c) {
  std::vector<int64_t> t;
  for (auto& r : c.recoveries)
    if (r.took_ms() >= 0) t.push_back(r.took_ms());
  std::sort(t.begin(), t.end());
  return t;
}

const char* kind_color(const std::string& kind) {
  static const std::map<std::string, const char*> colors = {
      {"kill", "#d62728"},  {"stop", "#ff7f0e"}, {"reset", "#9467bd"},  {"partition", "#8c564b"},
      {"oneway", "#e377c2"}, {"delay", "#bcbd22"}, {"slow", "#17becf"},  {"disk", "#7f7f7f"},
      {"slow-task", "#2ca02c"}};
  auto it = colors.find(kind);
  return it == colors.end() ? "#333" : it->second;
}

// The timeline: one row per process (faults as bars, exits and starts as
// marks), then batches published over time (index against time) for both runs.
std::string timeline_svg(const Report& r) {
  const int left = 110, width = 900, row = 26;
  bool has_source = !r.faulted.input.empty();  // a row for the runner's source
  int rows = r.workers + 1 + (has_source ? 1 : 0);
  int chart_top = rows * row + 20, chart_h = 220, height = chart_top + chart_h + 40;
  int64_t span = std::max<int64_t>({r.faulted.elapsed_ms, r.reference.elapsed_ms, 1000});
  auto x = [&](int64_t ms) { return left + static_cast<double>(ms) * width / span; };
  int64_t max_index = 1;
  auto first_time = [](const RunRecord& run) {
    int64_t f = -1;
    for (auto& p : run.published) f = f < 0 ? p.batch_time : std::min(f, p.batch_time);
    return f;
  };
  for (const RunRecord* run : {&r.reference, &r.faulted})
    for (auto& p : run->published) max_index = std::max(max_index, (p.batch_time - first_time(*run)) / r.batch_ms);
  auto y = [&](int64_t index) { return chart_top + chart_h - static_cast<double>(index) * chart_h / max_index; };
  auto row_of = [&](const std::string& target) {
    if (target == "coordinator") return 0;
    if (target == "source") return r.workers + 1;
    return std::atoi(target.c_str() + 7);
  };
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << left + width + 20 << "' height='" << height
    << "' font-family='sans-serif' font-size='11'>\n";
  // Stalls: gaps without a publication longer than max(2 s, 10 intervals).
  int64_t stall = std::max<int64_t>(2000, 10 * r.batch_ms), last = 0;
  for (auto& p : r.faulted.published) {
    if (p.seen_ms - last > stall && last > 0)
      s << "<rect x='" << x(last) << "' y='0' width='" << x(p.seen_ms) - x(last) << "' height='"
        << chart_top + chart_h << "' fill='#fdd' ><title>stall: no batch for " << p.seen_ms - last
        << " ms</title></rect>\n";
    last = p.seen_ms;
  }
  for (int i = 0; i < rows; ++i) {
    s << "<text x='4' y='" << i * row + 17 << "'>" << html_escape(has_source && i == r.workers + 1 ? "source" : target_name(i)) << "</text>"
      << "<line x1='" << left << "' x2='" << left + width << "' y1='" << i * row + 13 << "' y2='" << i * row + 13
      << "' stroke='#ddd'/>\n";
  }
  // Faults: bars from start to end.
  std::map<int, int64_t> starts;
  for (auto& e : r.faulted.timeline) {
    int yrow = row_of(e.target) * row;
    if (e.kind == "fault-start" || e.kind == "fault-fired") starts[e.fault] = e.t_ms;
    if (e.kind == "exit")
      s << "<text x='" << x(e.t_ms) - 4 << "' y='" << yrow + 17 << "' fill='#d62728' font-weight='bold'>&#215;<title>"
        << html_escape(e.target + ": " + e.text) << " at " << e.t_ms << " ms</title></text>\n";
    if (e.kind == "start")
      s << "<line x1='" << x(e.t_ms) << "' x2='" << x(e.t_ms) << "' y1='" << yrow + 4 << "' y2='" << yrow + 22
        << "' stroke='#2ca02c' stroke-width='2'><title>" << html_escape(e.target + ": " + e.text) << " at "
        << e.t_ms << " ms</title></line>\n";
  }
  for (auto& f : r.faulted.timeline) {
    if (f.kind != "fault-start" && f.kind != "fault-fired") continue;
    int64_t end = f.t_ms;
    for (auto& e : r.faulted.timeline)
      if (e.kind == "fault-end" && e.fault == f.fault) end = e.t_ms;
    std::string kind;
    for (auto& sf : r.schedule)
      if (sf.id == f.fault) kind = to_string(sf.kind);
    int yrow = row_of(f.target) * row;
    s << "<rect x='" << x(f.t_ms) << "' y='" << yrow + 6 << "' width='" << std::max(3.0, x(end) - x(f.t_ms))
      << "' height='14' fill='" << kind_color(kind) << "' opacity='0.8'><title>fault " << f.fault << ": "
      << html_escape(f.text) << "</title></rect>\n";
  }
  // Batches published: index over time.
  s << "<text x='4' y='" << chart_top + 12 << "'>batch index</text>"
    << "<line x1='" << left << "' x2='" << left << "' y1='" << chart_top << "' y2='" << chart_top + chart_h
    << "' stroke='#999'/><line x1='" << left << "' x2='" << left + width << "' y1='" << chart_top + chart_h
    << "' y2='" << chart_top + chart_h << "' stroke='#999'/>\n";
  for (auto [run, color, name] : {std::tuple{&r.reference, "#aaa", "reference"}, std::tuple{&r.faulted, "#1f77b4", "faulted"}}) {
    int64_t f = first_time(*run);
    s << "<polyline fill='none' stroke='" << color << "' stroke-width='1.5' points='";
    for (auto& p : run->published) s << x(p.seen_ms) << "," << y((p.batch_time - f) / r.batch_ms) << " ";
    s << "'><title>" << name << " run: batches published</title></polyline>\n";
  }
  for (int64_t t = 0; t <= span; t += std::max<int64_t>(1000, span / 10 / 1000 * 1000))
    s << "<text x='" << x(t) - 6 << "' y='" << chart_top + chart_h + 14 << "'>" << t / 1000 << " s</text>\n";
  s << "<text x='" << left + 10 << "' y='" << height - 6 << "'><tspan fill='#1f77b4'>&#9644; faulted run</tspan>"
    << "  <tspan fill='#aaa'>&#9644; reference run</tspan>  <tspan fill='#f99'>&#9632; stall (no batch for more "
       "than "
    << stall << " ms)</tspan>  <tspan fill='#d62728'>&#215; process exit</tspan>  <tspan fill='#2ca02c'>| start</tspan>"
    << "</text>\n</svg>\n";
  return s.str();
}

}  // namespace

std::string json_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c == '\n') out += "\\n";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return out;
}

std::string to_json(const Report& r) {
  std::ostringstream o;
  std::string cmd = "[";
  for (std::size_t i = 0; i < r.command.size(); ++i) cmd += (i ? "," : "") + q(r.command[i]);
  cmd += "]";
  auto times = recovery_times(r.check);
  o << "{\"tool\":\"tributary-chaos\",\"verdict\":" << q(r.verdict) << ",\"replay\":" << q(r.replay_command)
    << ",\"command\":" << cmd << ",\"seed\":" << r.seed << ",\"workers\":" << r.workers
    << ",\"batch_ms\":" << r.batch_ms << ",\"batches\":" << r.batches
    << ",\"recovery_bound_ms\":" << r.recovery_bound_ms << ",\"schedule\":" << faults_json(r.schedule)
    << ",\"minimal_schedule\":" << faults_json(r.minimal) << ",\"shrink_log\":[";
  for (std::size_t i = 0; i < r.shrink_log.size(); ++i) o << (i ? "," : "") << q(r.shrink_log[i]);
  o << "],\"violations\":[";
  for (std::size_t i = 0; i < r.check.violations.size(); ++i)
    o << (i ? "," : "") << "{\"invariant\":" << q(r.check.violations[i].invariant)
      << ",\"text\":" << q(r.check.violations[i].text) << "}";
  o << "],\"recoveries\":[";
  for (std::size_t i = 0; i < r.check.recoveries.size(); ++i) {
    auto& rc = r.check.recoveries[i];
    o << (i ? "," : "") << "{\"fault\":" << rc.fault << ",\"from_ms\":" << rc.from_ms
      << ",\"recovered_ms\":" << rc.recovered_ms << ",\"took_ms\":" << rc.took_ms()
      << ",\"stall_ms\":" << rc.stall_ms << "}";
  }
  o << "],\"recovery_median_ms\":" << (times.empty() ? -1 : times[times.size() / 2])
    << ",\"recovery_worst_ms\":" << (times.empty() ? -1 : times.back())
    << ",\"reference_batches\":" << r.check.reference_batches << ",\"faulted_batches\":" << r.check.faulted_batches
    << ",\"equal_batches\":" << r.check.equal_batches << ",\"max_gap_ms\":" << r.check.max_gap_ms
    << ",\"reference_max_gap_ms\":" << r.check.reference_max_gap_ms
    << ",\"reference\":" << run_json(r.reference, r.batch_ms) << ",\"faulted\":" << run_json(r.faulted, r.batch_ms)
    << "}\n";
  return o.str();
}

std::string to_html(const Report& r) {
  std::ostringstream h;
  bool pass = r.verdict == "pass";
  auto times = recovery_times(r.check);
  h << "<!doctype html><html><head><meta charset='utf-8'><title>tributary-chaos seed " << r.seed << ": "
    << r.verdict << "</title><style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
    << "code,pre{background:#f4f4f4;padding:2px 4px}pre{padding:8px;white-space:pre-wrap}"
    << "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
    << ".pass{color:#2ca02c}.fail{color:#d62728}</style></head><body>\n";
  h << "<h1>tributary-chaos: <span class='" << (pass ? "pass" : "fail") << "'>" << (pass ? "PASS" : "FAIL")
    << "</span></h1>\n<p>seed " << r.seed << ", " << r.workers << " workers, " << r.batches << " batches of "
    << r.batch_ms << " ms; reference run " << r.reference.elapsed_ms << " ms, faulted run " << r.faulted.elapsed_ms
    << " ms; " << r.check.equal_batches << " of " << r.check.reference_batches << " batches equal.</p>\n";
  if (!r.faulted.refused.empty())
    h << "<h2>Recovery refused</h2><p>A restart refused to resume (exit 3) rather than lose accepted records; "
      << "the run ended there, and the batches published before it were checked.</p><pre>"
      << html_escape(r.faulted.refused) << "</pre>\n";
  h << "<h2>Replay</h2><pre>" << html_escape(r.replay_command) << "</pre>\n";
  if (!r.check.violations.empty()) {
    h << "<h2>Invariants violated</h2><ul>";
    for (auto& v : r.check.violations) h << "<li><b>" << html_escape(v.invariant) << "</b>: " << html_escape(v.text) << "</li>";
    h << "</ul>\n";
  }
  if (!r.minimal.empty() || !r.shrink_log.empty()) {
    h << "<h2>Minimal failing schedule</h2><ul>";
    for (auto& f : r.minimal) h << "<li>fault " << f.id << ": " << html_escape(f.describe()) << "</li>";
    h << "</ul><details><summary>shrinking</summary><ul>";
    for (auto& line : r.shrink_log) h << "<li>" << html_escape(line) << "</li>";
    h << "</ul></details>\n";
  }
  h << "<h2>Timeline (the run checked)</h2>\n" << timeline_svg(r);
  h << "<h2>Faults</h2><table><tr><th>id</th><th>fault</th><th>recovery (its end to the next batch)</th>"
    << "<th>longest time without a batch from its start</th></tr>";
  for (auto& f : r.schedule) {
    std::string took = "-", stall = "-";
    for (auto& rc : r.check.recoveries)
      if (rc.fault == f.id) {
        took = rc.took_ms() < 0 ? "no batch after it" : std::to_string(rc.took_ms()) + " ms";
        stall = std::to_string(rc.stall_ms) + " ms";
      }
    bool in_run = false;
    for (auto& e : r.faulted.timeline) in_run = in_run || e.fault == f.id;
    h << "<tr><td>" << f.id << "</td><td>" << html_escape(f.describe()) << "</td><td>"
      << (in_run ? took : "not in this run") << "</td><td>" << (in_run ? stall : "") << "</td></tr>";
  }
  h << "</table><p>Recovery median " << (times.empty() ? -1 : times[times.size() / 2]) << " ms, worst "
    << (times.empty() ? -1 : times.back()) << " ms (bound " << r.recovery_bound_ms
    << " ms); longest time without a batch: " << r.check.max_gap_ms << " ms (reference "
    << r.check.reference_max_gap_ms << " ms).</p>\n";
  h << "<h2>Events</h2><table><tr><th>ms</th><th>process</th><th>what</th></tr>";
  for (auto& e : r.faulted.timeline)
    h << "<tr><td>" << e.t_ms << "</td><td>" << html_escape(e.target) << "</td><td>" << html_escape(e.kind + ": " + e.text)
      << "</td></tr>";
  h << "</table>\n<h2>Job command</h2><pre>";
  for (auto& c : r.command) h << html_escape(c) << " ";
  h << "</pre></body></html>\n";
  return h.str();
}

bool write_report(const Report& r, const std::string& dir, std::string& error) {
  for (auto [name, text] : {std::pair{"/report.json", to_json(r)}, std::pair{"/report.html", to_html(r)}}) {
    std::ofstream out(dir + name);
    out << text;
    if (!out) {
      error = "cannot write " + dir + name;
      return false;
    }
  }
  return true;
}

}  // namespace trib::chaos
