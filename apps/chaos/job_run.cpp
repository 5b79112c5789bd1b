#include "apps/chaos/job_run.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "apps/chaos/proxy.hpp"
#include "apps/chaos/source.hpp"
#include "apps/worker_respawn.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace trib::chaos {
namespace {

std::atomic<bool> interrupted{false};

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

// A port nothing listens on right now (the job binds it a moment later).
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

// Variables of the runner's own environment a child must not inherit: the
// runner decides each process's fault rules.
bool runner_owned(const std::string& entry) {
  for (const char* name : {"TRIB_FAULTS=", "TRIB_FAULT_PLAN=", "TRIB_FAULT_LOG=", "TRIB_CRASH_AT=", "TRIB_DELAY_AT="})
    if (entry.rfind(name, 0) == 0) return true;
  return false;
}

struct Node {
  int index = 0;
  pid_t pid = 0;
  int starts = 0;
  int64_t restart_at = -1;  // ms from the run's start; -1: none pending
};

// "counts-1795551702180" or "counts-1795551702180.txt": the batch time; -1 if not a batch directory.
int64_t batch_time_of(const std::string& name) {
  if (name.empty() || name[0] == '.' || (name.size() > 11 && name.compare(name.size() - 11, 11, "._temporary") == 0))
    return -1;
  auto dash = name.rfind('-');
  if (dash == std::string::npos) return -1;
  std::string digits = name.substr(dash + 1);
  digits = digits.substr(0, digits.find('.'));
  if (digits.empty() || digits.size() > 15 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

class Runner {
 public:
  explicit Runner(const RunSpec& spec) : spec_(spec) {}

  RunRecord run() {
    rec_.output_dir = spec_.dir + "/output";
    std::error_code ec;
    for (auto sub : {"/checkpoint", "/output", "/logs"}) fs::create_directories(spec_.dir + sub, ec);
    if (ec) {
      rec_.setup_error = "cannot create " + spec_.dir + ": " + ec.message();
      return rec_;
    }
    ph_.workers = spec_.workers;
    ph_.port = free_port();
    ph_.dir = spec_.dir;
    ph_.seed = spec_.seed;
    ph_.batches = spec_.batches;
    ph_.batch_ms = spec_.batch_ms;
    if (ph_.port == 0) {
      rec_.setup_error = "no free loopback port";
      return rec_;
    }
    try {
      for (int i = 1; i <= spec_.workers; ++i) {
        proxies_.push_back(std::make_unique<FaultProxy>(ph_.port));
        ph_.join_ports.push_back(proxies_.back()->port());
      }
    } catch (const std::exception& e) {
      rec_.setup_error = e.what();
      return rec_;
    }
    if (spec_.source != SourceKind::none) {
      PacedLines input{source_lines(spec_.seed, spec_.source_lines), wall_ms() + 300, spec_.source_spread_ms};
      rec_.input = input.lines;
      try {
        if (spec_.source == SourceKind::socket) {
          server_ = std::make_unique<LineServer>(
              input, [this] { return coordinator_pid_.load(); }, spec_.dir + "/checkpoint");
          ph_.socket_port = server_->port();
        } else {
          redis_ = std::make_unique<RedisProcess>(spec_.dir + "/redis");
          std::string error;
          if (!redis_->start(error)) {
            rec_.setup_error = error;
            return rec_;
          }
          ph_.redis_port = redis_->port();
          feed_ = std::make_unique<RedisFeed>(input, redis_->port(), "events");
        }
      } catch (const std::exception& e) {
        rec_.setup_error = e.what();
        return rec_;
      }
    }
    for (auto& f : spec_.faults) (f.timed() ? timed_ : engine_).push_back(f);
    started_.assign(timed_.size(), false);
    ended_.assign(timed_.size(), false);
    stopped_pid_.assign(timed_.size(), 0);
    start_wall_ = wall_ms();
    for (int i = 0; i <= spec_.workers; ++i) nodes_.push_back(Node{i});
    for (auto& n : nodes_) start(n);
    if (!rec_.setup_error.empty()) return finish();
    loop();
    return finish();
  }

 private:
  int64_t now() const { return wall_ms() - start_wall_; }

  void event(const std::string& kind, int node, const std::string& text, int fault = -1, int64_t at = -1) {
    rec_.timeline.push_back({at < 0 ? now() : at, kind, target_name(node), text, fault});
  }

  std::string fault_rules(int node) const {
    std::string rules;
    for (auto& f : engine_)
      if (f.target == node && !fired_.count(f.id)) rules += (rules.empty() ? "" : ",") + f.rule;
    return rules;
  }

  void start(Node& n) {
    auto argv_text = expand_command(spec_.command, ph_, n.index);
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
      if (!runner_owned(*e)) env.push_back(*e);
    env.insert(env.end(), spec_.env.begin(), spec_.env.end());
    env.push_back("TRIB_FAULT_LOG=" + spec_.dir + "/faults.log");
    if (auto rules = fault_rules(n.index); !rules.empty()) env.push_back("TRIB_FAULTS=" + rules);
    std::string log = log_path(n.index, n.starts);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    std::vector<char*> argv, envp;
    for (auto& a : argv_text) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);  // the terminal's Ctrl-C goes to the runner, which stops its children
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execvpe(argv[0], argv.data(), envp.data());
      std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
      ::_exit(127);
    }
    if (fd >= 0) ::close(fd);
    if (pid > 0) ::setpgid(pid, pid);  // as the child does: no signal may miss the group
    if (pid < 0) {
      rec_.setup_error = std::string("fork failed: ") + std::strerror(errno);
      return;
    }
    n.pid = pid;
    if (n.index == 0) coordinator_pid_ = pid;
    n.restart_at = -1;
    ++n.starts;
    event("start", n.index, "started (pid " + std::to_string(pid) + ")" +
                                (fault_rules(n.index).empty() ? "" : ", faults armed: " + fault_rules(n.index)));
  }

  // What the proxy of `worker` should do, from every network fault active on it now.
  void apply_proxy_state(int worker) {
    bool up = false, down = false;
    int64_t delay = 0, rate = 0;
    for (std::size_t i = 0; i < timed_.size(); ++i) {
      const Fault& f = timed_[i];
      if (f.target != worker || !started_[i] || ended_[i]) continue;
      if (f.kind == FaultKind::partition) up = down = true;
      if (f.kind == FaultKind::oneway) up = true;
      if (f.kind == FaultKind::delay) delay = std::max(delay, f.param);
      if (f.kind == FaultKind::slow) rate = rate == 0 ? f.param : std::min(rate, f.param);
    }
    FaultProxy& p = *proxies_[worker - 1];
    p.hold(up, down);
    p.set_delay_ms(delay);
    p.set_rate(rate);
  }

  void begin_fault(std::size_t i) {
    const Fault& f = timed_[i];
    started_[i] = true;
    if (f.on_source()) {
      if (f.kind == FaultKind::source_close) {
        server_->close_connection();
        ended_[i] = true;
      } else if (f.kind == FaultKind::source_hang) {
        server_->hang();
      } else {
        redis_->kill();  // reaped in reap(); started again at the fault's end
      }
      event("fault-start", f.target, f.describe(), f.id);
      return;
    }
    pid_t pid = nodes_[f.target].pid;
    switch (f.kind) {
      case FaultKind::kill:  // the process group: a worker that rejoined runs as its child
        if (pid > 0) ::kill(-pid, SIGKILL);
        ended_[i] = true;
        break;
      case FaultKind::stop:
        if (pid > 0) ::kill(-pid, SIGSTOP);
        stopped_pid_[i] = pid;
        break;
      case FaultKind::reset:
        proxies_[f.target - 1]->reset();
        ended_[i] = true;
        break;
      default:
        apply_proxy_state(f.target);
    }
    event("fault-start", f.target, f.describe() + (pid > 0 ? "" : " (process not running)"), f.id);
  }

  void end_fault(std::size_t i) {
    const Fault& f = timed_[i];
    ended_[i] = true;
    if (f.kind == FaultKind::source_hang) {
      server_->unhang();
    } else if (f.kind == FaultKind::redis_restart) {
      // Overlapping restarts: the server comes back when the last one ends.
      bool another = false;
      for (std::size_t j = 0; j < timed_.size(); ++j)
        another = another || (j != i && timed_[j].kind == FaultKind::redis_restart && started_[j] && !ended_[j]);
      for (int k = 0; k < 100 && !another && redis_->pid() > 0; ++k) {  // killed, not reaped yet
        int status;
        if (::waitpid(redis_->pid(), &status, WNOHANG) == redis_->pid()) redis_->exited();
        else std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      std::string error;
      if (!another && redis_->pid() == 0 && !redis_->start(error)) rec_.failure = "cannot restart redis-server: " + error;
    } else if (f.kind == FaultKind::stop) {
      if (stopped_pid_[i] > 0) ::kill(-stopped_pid_[i], SIGCONT);
    } else {
      apply_proxy_state(f.target);
    }
    event("fault-end", f.target, std::string(to_string(f.kind)) + " ends", f.id);
  }

  void reap() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (redis_ && pid == redis_->pid()) {
        redis_->exited();
        event("exit", kSource, "redis-server exited");
        continue;
      }
      for (auto& n : nodes_) {
        if (n.pid != pid) continue;
        n.pid = 0;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        std::string how = WIFEXITED(status) ? "exit " + std::to_string(code)
                                            : "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                                                  strsignal(WTERMSIG(status)) + ")";
        event("exit", n.index, how);
        if (n.index == 0) coordinator_pid_ = 0;
        if (WIFEXITED(status) && code == 2 && n.starts == 1 && done_at_ < 0) {
          // Its first start rejected the command line: no restart can help.
          rec_.setup_error = target_name(n.index) + " exited 2 (a usage error) at its first start: " +
                             first_log_line(n) + " (see " + log_path(n) + ")";
        } else if (WIFEXITED(status) && code == cli::kRecoveryRefusedExit && done_at_ < 0) {
          // Detected, not lost: the run ends here; the checker decides
          // whether a fault explains it.
          rec_.refused = refusal_message(n);
          event("refused", n.index, rec_.refused);
        } else if (n.index == 0 && code == 0) {
          done_at_ = now();
        } else if (done_at_ < 0) {
          n.restart_at = now() + spec_.restart_ms;
        }
      }
    }
  }

  // The log of start number `start` (from 0) of node `index`.
  std::string log_path(int index, int start) const {
    return spec_.dir + "/logs/" + target_name(index) + "-" + std::to_string(start) + ".log";
  }
  // The log of the process of `n` that just exited.
  std::string log_path(const Node& n) const { return log_path(n.index, n.starts - 1); }
  std::string first_log_line(const Node& n) const {
    std::ifstream in(log_path(n));
    std::string line;
    while (std::getline(in, line) && line.empty()) {
    }
    return line;
  }

  // The error line of the refused start, from that start's log.
  std::string refusal_message(const Node& n) const {
    std::string log = log_path(n);
    std::ifstream in(log);
    std::string found;
    for (std::string line; std::getline(in, line);)
      if (auto p = line.find("refusing to recover: "); p != std::string::npos) found = line.substr(p + 21);
    return found.empty() ? "exit " + std::to_string(cli::kRecoveryRefusedExit) + " (see " + log + ")" : found;
  }

  void read_fault_log() {
    std::ifstream in(spec_.dir + "/faults.log");
    std::string line;
    int i = 0;
    while (std::getline(in, line)) {
      if (i++ < fault_log_lines_) continue;
      ++fault_log_lines_;
      auto field = [&](const std::string& name) {
        auto p = line.find("\"" + name + "\":");
        if (p == std::string::npos) return std::string();
        p += name.size() + 3;
        if (line[p] == '"') return line.substr(p + 1, line.find('"', p + 1) - p - 1);
        return line.substr(p, line.find_first_of(",}", p) - p);
      };
      int64_t at = std::stoll("0" + field("wall_ms")) - start_wall_;
      pid_t pid = static_cast<pid_t>(std::stol("0" + field("pid")));
      std::string rule_head = field("point") + "=" + field("action");
      for (auto& f : engine_) {
        if (fired_.count(f.id) || f.rule.rfind(rule_head + "@", 0) != 0) continue;
        // The pid of the node now, or of the one that just crashed from it.
        fired_.insert(f.id);
        rec_.fired.push_back(f.id);
        event("fault-fired", f.target, f.describe() + " (pid " + std::to_string(pid) + ")", f.id, at);
        break;
      }
    }
  }

  void scan_output() {
    std::error_code ec;
    std::vector<Publication> fresh;
    fs::recursive_directory_iterator it(rec_.output_dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (!it->is_directory(ec)) continue;
      std::string name = it->path().filename().string();
      int64_t t = batch_time_of(name);
      if (t < 0) continue;
      it.disable_recursion_pending();
      if (!seen_.insert(it->path().string()).second) continue;
      struct stat st {};
      int64_t renamed = ::stat(it->path().c_str(), &st) == 0
                            ? static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec
                            : 0;
      fresh.push_back({t, now(), it->path().string(), renamed});
    }
    // Seen in one poll: their order is unknown, list them by time.
    std::sort(fresh.begin(), fresh.end(), [](auto& a, auto& b) { return a.batch_time < b.batch_time; });
    rec_.published.insert(rec_.published.end(), fresh.begin(), fresh.end());
  }

  void loop() {
    int64_t last_scan = -1000;
    while (true) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (interrupted) {
        rec_.setup_error = "interrupted";
        return;
      }
      int64_t t = now();
      if (done_at_ < 0)
        for (std::size_t i = 0; i < timed_.size(); ++i) {
          if (!started_[i] && t >= timed_[i].at_ms) begin_fault(i);
          if (started_[i] && !ended_[i] && t >= timed_[i].at_ms + timed_[i].duration_ms) end_fault(i);
        }
      reap();
      read_fault_log();
      take_source_events();
      if (!rec_.refused.empty() || !rec_.setup_error.empty()) return;
      if (done_at_ < 0)
        for (std::size_t i = 0; i < timed_.size(); ++i)
          if (timed_[i].kind == FaultKind::source_hang && started_[i] && !ended_[i] && !server_->hang_pending())
            end_fault(i);  // the receiver reconnected
      for (auto& n : nodes_) {
        if (n.pid != 0 || n.restart_at < 0 || t < n.restart_at || done_at_ >= 0) continue;
        if (n.starts > 30) {
          rec_.failure = target_name(n.index) + " exited 30 times; the job cannot recover (see " + spec_.dir + "/logs)";
          return;
        }
        start(n);
      }
      if (t - last_scan >= 50) {
        scan_output();
        last_scan = t;
      }
      bool all_exited = true;
      for (auto& n : nodes_) all_exited = all_exited && n.pid == 0;
      if (done_at_ >= 0 && (all_exited || t - done_at_ > 10000)) {
        rec_.finished = true;
        return;
      }
      if (t > spec_.timeout_ms) {
        rec_.failure = "the job did not finish within " + std::to_string(spec_.timeout_ms / 1000) +
                       " s (" + std::to_string(rec_.published.size()) + " batches published)";
        return;
      }
    }
  }

  void take_source_events() {
    if (!server_) return;
    for (auto& [at, text] : server_->take_events())
      rec_.timeline.push_back({at - start_wall_, "source", target_name(kSource), text, -1});
  }

  RunRecord finish() {
    for (std::size_t i = 0; i < timed_.size(); ++i)
      if (started_[i] && !ended_[i]) end_fault(i);
    for (auto& n : nodes_)
      if (n.pid > 0) {
        ::kill(-n.pid, SIGCONT);
        ::kill(-n.pid, SIGKILL);
        int status;
        ::waitpid(n.pid, &status, 0);
        event("exit", n.index, "killed by the runner at the end of the run");
        n.pid = 0;
      }
    scan_output();
    read_fault_log();
    take_source_events();
    if (server_) {
      rec_.input_served = server_->lines_written();
      rec_.source_error = server_->error();
    }
    if (feed_) rec_.input_served = feed_->added();
    rec_.elapsed_ms = now();
    proxies_.clear();
    server_.reset();
    feed_.reset();
    redis_.reset();
    return rec_;
  }

  const RunSpec& spec_;
  RunRecord rec_;
  Placeholders ph_;
  std::vector<std::unique_ptr<FaultProxy>> proxies_;
  std::unique_ptr<LineServer> server_;
  std::unique_ptr<RedisProcess> redis_;
  std::unique_ptr<RedisFeed> feed_;
  std::atomic<pid_t> coordinator_pid_{0};
  std::vector<Node> nodes_;
  std::vector<Fault> timed_, engine_;
  std::vector<bool> started_, ended_;
  std::vector<pid_t> stopped_pid_;
  std::set<int> fired_;
  std::set<std::string> seen_;
  int fault_log_lines_ = 0;
  int64_t start_wall_ = 0;
  int64_t done_at_ = -1;
};

}  // namespace

std::vector<std::string> expand_command(const std::vector<std::string>& command, const Placeholders& p, int node) {
  std::vector<std::string> out;
  for (const auto& token : command) {
    if (token == "{role}") {
      if (p.workers == 0) continue;
      if (node == 0) {
        for (auto& a : {std::string("--listen"), std::to_string(p.port), std::string("--min-workers"),
                        std::to_string(p.workers), std::string("--min-workers-wait"), std::string("5")})
          out.push_back(a);
      } else {
        out.push_back("--join");
        out.push_back("127.0.0.1:" + std::to_string(p.join_ports[node - 1]));
      }
      continue;
    }
    std::string t = token;
    t = replace_all(t, "{port}", std::to_string(p.port));
    t = replace_all(t, "{checkpoint}", p.dir + "/checkpoint");
    t = replace_all(t, "{output}", p.dir + "/output");
    t = replace_all(t, "{events}", p.dir + "/events.jsonl");
    t = replace_all(t, "{seed}", std::to_string(p.seed));
    t = replace_all(t, "{batches}", std::to_string(p.batches));
    t = replace_all(t, "{batch_ms}", std::to_string(p.batch_ms));
    t = replace_all(t, "{dir}", p.dir);
    t = replace_all(t, "{socket}", "127.0.0.1:" + std::to_string(p.socket_port));
    t = replace_all(t, "{redis_port}", std::to_string(p.redis_port));
    out.push_back(t);
  }
  return out;
}

RunRecord run_job(const RunSpec& spec) {
  if (interrupted) {
    RunRecord r;
    r.setup_error = "interrupted";
    return r;
  }
  return Runner(spec).run();
}

void interrupt_runs() { interrupted = true; }

}  // namespace trib::chaos
