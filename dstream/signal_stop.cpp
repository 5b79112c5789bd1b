#include "dstream/signal_stop.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <map>
#include <mutex>
#include <thread>

namespace trib {
namespace {

int pipe_fds[2] = {-1, -1};       // the handler writes the signal number, the watcher reads it
std::atomic<int> signals_seen{0};

void on_signal(int sig) {
  // Async-signal-safe only: count, and wake the watcher (or die on the second).
  if (signals_seen.fetch_add(1) > 0) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  unsigned char b = static_cast<unsigned char>(sig);
  int saved = errno;
  [[maybe_unused]] auto n = ::write(pipe_fds[1], &b, 1);
  errno = saved;
}

struct Registry {
  std::mutex mutex;
  std::map<int, std::function<void(int)>> callbacks;
  int next_id = 0;
  bool installed = false;
  struct sigaction previous_int {}, previous_term {};
};

Registry& registry() {
  static Registry* r = new Registry;  // outlives static destruction: the watcher may still run
  return *r;
}

void watch() {
  for (;;) {
    unsigned char sig = 0;
    ssize_t n = ::read(pipe_fds[0], &sig, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    std::map<int, std::function<void(int)>> callbacks;
    {
      std::lock_guard<std::mutex> lock(registry().mutex);
      callbacks = registry().callbacks;
    }
    for (auto& [id, f] : callbacks) f(sig);
  }
}

void install(Registry& r) {
  static std::once_flag started;
  std::call_once(started, [] {
    if (::pipe2(pipe_fds, O_CLOEXEC) == 0) std::thread(watch).detach();
  });
  signals_seen = 0;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &r.previous_int);
  sigaction(SIGTERM, &action, &r.previous_term);
  r.installed = true;
}

void uninstall(Registry& r) {
  sigaction(SIGINT, &r.previous_int, nullptr);
  sigaction(SIGTERM, &r.previous_term, nullptr);
  r.installed = false;
}

}  // namespace

std::shared_ptr<void> stop_on_signal(std::function<void(int)> callback) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.installed) install(r);
  int id = r.next_id++;
  r.callbacks[id] = std::move(callback);
  return std::shared_ptr<void>(nullptr, [id](void*) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    r.callbacks.erase(id);
    if (r.callbacks.empty() && r.installed) uninstall(r);
  });
}

}  // namespace trib
