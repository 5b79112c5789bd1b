#include "apps/worker_respawn.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

namespace trib::cli {
namespace {

constexpr const char* kMarker = "TRIB_RESPAWNED_WORKER";
volatile sig_atomic_t child_pid = 0;

void forward(int sig) {
  if (child_pid > 0) ::kill(child_pid, sig);
}

}  // namespace

bool is_respawned_worker() { return std::getenv(kMarker) != nullptr; }

int respawn_worker() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (std::size_t at = 0; at < raw.size();) {
    std::size_t end = raw.find('\0', at);
    if (end == std::string::npos) end = raw.size();
    args.push_back(raw.substr(at, end - at));
    at = end + 1;
  }
  if (args.empty()) {
    spdlog::error("cannot read this process's arguments to rejoin as a new worker");
    return 1;
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::signal(SIGINT, forward);
  std::signal(SIGTERM, forward);
  for (int respawns = 1;; ++respawns) {
    if (respawns > kMaxRespawns) {
      spdlog::error("given up on {} times: not rejoining again; start the worker again when its machine is "
                    "healthy", respawns);
      return 1;
    }
    spdlog::warn("rejoining the job as a new worker process");
    pid_t pid = ::fork();
    if (pid < 0) {
      spdlog::error("cannot start a new worker process: {}", std::strerror(errno));
      return 1;
    }
    if (pid == 0) {
      ::setenv(kMarker, "1", 1);
      ::execv("/proc/self/exe", argv.data());
      ::_exit(127);
    }
    child_pid = pid;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    child_pid = 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != kEvictedExit) return code;
  }
}

}  // namespace trib::cli
