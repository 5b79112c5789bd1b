#include "recovery/fault_injection.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

namespace trib {
namespace {

enum class Filter { all, delays, others };

struct ArmedRule {
  FaultRule rule;
  std::atomic<int64_t> seen{0};
  std::atomic<bool> logged{false};
};

bool parse_int(const std::string& text, int64_t& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < 0) return false;
  out = v;
  return true;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// One rule, "POINT=ACTION[:ARG][@N][xK]"; empty string on success, else why not.
std::string parse_rule(const std::string& text, FaultRule& r) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return "expected POINT=ACTION";
  r.point = text.substr(0, eq);
  std::string rest = text.substr(eq + 1);
  // Trailing xK then @N (both optional).
  auto x = rest.rfind('x');
  auto at = rest.rfind('@');
  if (x != std::string::npos && (at == std::string::npos || x > at)) {  // no action name holds an 'x'
    std::string k = rest.substr(x + 1);
    if (k == "*") r.count = -1;
    else if (!parse_int(k, r.count) || r.count == 0) return "bad repeat 'x" + k + "'";
    rest = rest.substr(0, x);
  }
  at = rest.rfind('@');
  if (at != std::string::npos) {
    if (!parse_int(rest.substr(at + 1), r.first) || r.first == 0) return "bad hit '@" + rest.substr(at + 1) + "'";
    rest = rest.substr(0, at);
  }
  r.action_text = rest;
  std::string arg;
  auto colon = rest.find(':');
  std::string action = rest.substr(0, colon);
  if (colon != std::string::npos) arg = rest.substr(colon + 1);
  using A = FaultHit::Action;
  if (action == "crash") r.hit.action = A::crash;
  else if (action == "delay") {
    r.hit.action = A::delay;
    if (!parse_int(arg, r.hit.delay_ms)) return "delay needs milliseconds (delay:MS)";
  } else if (action == "enospc") {
    r.hit = {A::fail, ENOSPC, 0};
  } else if (action == "eio") {
    r.hit = {A::fail, EIO, 0};
  } else if (action == "torn") r.hit.action = A::torn;
  else if (action == "corrupt") r.hit.action = A::corrupt;
  else return "unknown action '" + action + "' (crash, delay:MS, enospc, eio, torn, corrupt)";
  if (action != "delay" && !arg.empty()) return "action '" + action + "' takes no argument";
  return {};
}

struct Registry {
  Registry() {
    std::string text;
    if (const char* s = std::getenv("TRIB_FAULTS")) text += std::string(s) + "\n";
    if (const char* plan = std::getenv("TRIB_FAULT_PLAN")) {
      std::ifstream in(plan);
      if (!in) std::fprintf(stderr, "TRIB_FAULT_PLAN %s: cannot read it\n", plan);
      std::string line;
      while (std::getline(in, line))
        if (auto hash = line.find('#'); hash != std::string::npos) text += line.substr(0, hash) + "\n";
        else text += line + "\n";
    }
    // The older single-rule variables.
    if (const char* s = std::getenv("TRIB_CRASH_AT")) {
      std::string v = s;
      auto colon = v.rfind(':');
      text += v.substr(0, colon) + "=crash@" + (colon == std::string::npos ? "1" : v.substr(colon + 1)) + "\n";
    }
    if (const char* s = std::getenv("TRIB_DELAY_AT")) {
      std::string v = s;
      auto colon = v.rfind(':');
      if (colon != std::string::npos) text += v.substr(0, colon) + "=delay:" + v.substr(colon + 1) + "x*\n";
    }
    std::vector<std::string> errors;
    for (auto& r : parse_fault_rules(text, &errors)) {
      rules.push_back(std::make_unique<ArmedRule>());
      rules.back()->rule = r;
    }
    for (auto& e : errors) std::fprintf(stderr, "fault injection: ignoring rule: %s\n", e.c_str());
    if (const char* log = std::getenv("TRIB_FAULT_LOG")) log_path = log;
    any.store(!rules.empty(), std::memory_order_release);
  }

  void log_fired(ArmedRule& r) {
    if (log_path.empty() || r.logged.exchange(true)) return;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
    if (std::FILE* f = std::fopen(log_path.c_str(), "a")) {
      std::fprintf(f, "{\"wall_ms\":%lld,\"pid\":%d,\"point\":\"%s\",\"action\":\"%s\"}\n",
                   static_cast<long long>(now), static_cast<int>(::getpid()), r.rule.point.c_str(),
                   r.rule.action_text.c_str());
      std::fclose(f);  // closed (flushed) before a crash action kills us
    }
  }

  std::vector<std::unique_ptr<ArmedRule>> rules;
  std::string log_path;
  std::atomic<bool> any{false};
};

Registry& registry() {
  static Registry r;
  return r;
}

FaultHit hit(const char* point, Filter filter) {
  Registry& reg = registry();
  if (!reg.any.load(std::memory_order_relaxed)) return {};
  FaultHit result;
  for (auto& armed : reg.rules) {
    const FaultRule& r = armed->rule;
    bool is_delay = r.hit.action == FaultHit::Action::delay;
    if ((filter == Filter::delays && !is_delay) || (filter == Filter::others && is_delay)) continue;
    if (r.point != point) continue;
    int64_t n = ++armed->seen;
    if (n < r.first || (r.count >= 0 && n >= r.first + r.count)) continue;
    reg.log_fired(*armed);
    switch (r.hit.action) {
      case FaultHit::Action::crash:
        fault_crash_now();
      case FaultHit::Action::delay:
        std::this_thread::sleep_for(std::chrono::milliseconds(r.hit.delay_ms));
        break;
      default:
        result = r.hit;
    }
  }
  return result;
}

}  // namespace

std::vector<FaultRule> parse_fault_rules(const std::string& text, std::vector<std::string>* errors) {
  std::vector<FaultRule> rules;
  std::string normalized = text;
  for (char& c : normalized)
    if (c == ',' || c == ';') c = '\n';
  std::istringstream lines(normalized);
  for (std::string line; std::getline(lines, line);) {
    line = trim(line);
    if (line.empty()) continue;
    FaultRule r;
    if (auto why = parse_rule(line, r); !why.empty()) {
      if (errors) errors->push_back("'" + line + "': " + why);
      continue;
    }
    rules.push_back(r);
  }
  return rules;
}

FaultHit fault_point(const char* point) { return hit(point, Filter::all); }
void crash_point(const char* point) { hit(point, Filter::others); }
void delay_point(const char* point) { hit(point, Filter::delays); }

bool faults_armed() { return registry().any.load(std::memory_order_relaxed); }

void fault_crash_now() {
  ::kill(::getpid(), SIGKILL);
  std::abort();  // not reached
}

}  // namespace trib
