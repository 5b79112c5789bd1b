#include "recovery/fault_injection.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cstdlib>
#include <string>

namespace trib {
namespace {

struct Plan {
  explicit Plan(const char* variable) {
    if (const char* spec = std::getenv(variable)) {
      std::string s = spec;
      auto colon = s.rfind(':');
      point = s.substr(0, colon);
      at = colon == std::string::npos ? 1 : std::atol(s.c_str() + colon + 1);
    }
  }
  std::string point;
  long at = 0;
  std::atomic<long> seen{0};
};

Plan& crash_plan() {
  static Plan p("TRIB_CRASH_AT");
  return p;
}

Plan& delay_plan() {
  static Plan p("TRIB_DELAY_AT");
  return p;
}

}  // namespace

void crash_point(const char* point) {
  Plan& p = crash_plan();
  if (p.point.empty() || p.point != point) return;
  if (++p.seen == p.at) ::kill(::getpid(), SIGKILL);
}

void delay_point(const char* point) {
  Plan& p = delay_plan();
  if (p.point.empty() || p.point != point) return;
  std::this_thread::sleep_for(std::chrono::milliseconds(p.at));
}

}  // namespace trib
