#include "recovery/fault_injection.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace trib {
namespace {

struct Plan {
  Plan() {
    if (const char* spec = std::getenv("TRIB_CRASH_AT")) {
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

Plan& plan() {
  static Plan p;
  return p;
}

}  // namespace

void crash_point(const char* point) {
  Plan& p = plan();
  if (p.point.empty() || p.point != point) return;
  if (++p.seen == p.at) ::kill(::getpid(), SIGKILL);
}

}  // namespace trib
