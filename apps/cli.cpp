#include "apps/cli.hpp"

#include "apps/worker_respawn.hpp"
#include "recovery/recovery_refused.hpp"
#include "io/socket_receiver.hpp"

#include <atomic>
#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <cctype>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace trib::cli {
namespace {

template <class T>
std::string to_text(const T& x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

// --batch-ms -> TRIB_BATCH_MS
std::string env_name(const std::string& flag) {
  std::string env = "TRIB_";
  for (char c : flag) env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

// Parses the whole of `v` as a number; false if it is not one.
template <class T, class Parse>
bool parse_number(const std::string& v, T& out, Parse parse) {
  try {
    std::size_t used = 0;
    T x = parse(v, &used);
    if (used != v.size()) return false;
    out = x;
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

Flags& Flags::add(std::string name, std::string* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), *target, Flag::Kind::text, target});
  return *this;
}

Flags& Flags::add(std::string name, int64_t* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), to_text(*target), Flag::Kind::integer, target});
  return *this;
}

Flags& Flags::add(std::string name, double* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), to_text(*target), Flag::Kind::real, target});
  return *this;
}

Flags& Flags::add_switch(std::string name, bool* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), *target ? "yes" : "no", Flag::Kind::boolean, target});
  return *this;
}

std::unique_ptr<CLI::App> Flags::make_app(std::string* bad_value) const {
  auto app = std::make_unique<CLI::App>(summary_, program_);
  app->get_formatter()->column_width(32);
  app->get_formatter()->label("Usage", "usage");
  app->allow_extras();  // reported as "unknown flag" below
  app->allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key in --config is an error
  app->set_config("--config", "", "read flags from FILE: lines `name = value` (# comments); flags given "
                                  "on the command line win")
      ->option_text("FILE");
  app->footer("Every flag can also be set in the environment as TRIB_<FLAG> (TRIB_LOG_LEVEL=debug) or in "
              "the --config file; the command line wins over the file, the file over the environment.");
  for (const auto& f : flags_) {
    std::string opt = "--" + f.name;
    CLI::Option* o = nullptr;
    if (f.kind == Flag::Kind::boolean) {
      // --name, --name=yes|no|true|false|on|off|1|0
      o = app->add_flag(opt, *static_cast<bool*>(f.target), f.help)->option_text("[=yes|no]");
    } else {
      auto set = [f, bad_value](const std::string& v) {
        bool ok = true;
        if (f.kind == Flag::Kind::text)
          *static_cast<std::string*>(f.target) = v;
        else if (f.kind == Flag::Kind::integer)
          ok = parse_number(v, *static_cast<int64_t*>(f.target), [](const std::string& s, std::size_t* used) {
            return static_cast<int64_t>(std::stoll(s, used));
          });
        else
          ok = parse_number(v, *static_cast<double*>(f.target),
                            [](const std::string& s, std::size_t* used) { return std::stod(s, used); });
        if (!ok) {
          *bad_value = "invalid value '" + v + "' for --" + f.name;
          throw CLI::ValidationError(*bad_value);
        }
      };
      const char* type = f.kind == Flag::Kind::text ? "TEXT" : f.kind == Flag::Kind::integer ? "INT" : "NUMBER";
      std::string help = f.help;
      if (!f.default_text.empty()) help += " (default: " + f.default_text + ")";
      o = app->add_option_function<std::string>(opt, set, help)->option_text(type);
    }
    o->envname(env_name(f.name));
  }
  return app;
}

Flags::Result Flags::parse(int argc, char** argv, std::string& error) {
  std::string bad_value;
  auto app = make_app(&bad_value);
  try {
    app->parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return Result::help;
  } catch (const CLI::ArgumentMismatch& e) {
    std::string what = e.what();  // "--partitions: 1 required TEXT missing"
    std::string name = what.substr(0, what.find(':'));
    int given = 0;  // CLI11 says the same when a flag is given twice
    for (int i = 1; i < argc; ++i)
      if (std::string arg = argv[i]; arg == name || arg.rfind(name + "=", 0) == 0) ++given;
    error = given > 1 ? "flag " + name + " is given " + std::to_string(given) + " times; give it once"
                      : "flag " + name + " needs a value";
    return Result::error;
  } catch (const CLI::ParseError& e) {
    error = bad_value.empty() ? std::string(e.what()) : bad_value;
    return Result::error;
  }
  if (auto extra = app->remaining(); !extra.empty()) {
    const std::string& arg = extra.front();
    error = arg.rfind("--", 0) == 0 ? "unknown flag " + arg.substr(0, arg.find('='))
                                    : "unexpected argument '" + arg + "'";
    return Result::error;
  }
  return Result::ok;
}

std::string Flags::usage() const {
  std::string unused;
  auto app = make_app(&unused);
  return app->help();
}

int usage_error(const Flags& flags, const std::string& what) {
  std::fprintf(stderr, "error: %s\n\n%s", what.c_str(), flags.usage().c_str());
  return 2;
}

int parse_or_exit_code(Flags& flags, int argc, char** argv) {
  std::string error;
  switch (flags.parse(argc, argv, error)) {
    case Flags::Result::ok:
      return -1;
    case Flags::Result::help:
      std::fputs(flags.usage().c_str(), stdout);
      return 0;
    case Flags::Result::error:
      std::fprintf(stderr, "error: %s\n\n%s", error.c_str(), flags.usage().c_str());
      return 2;
  }
  return 2;
}

bool init_logging(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") return false;
  // Logs go to stderr; stdout carries the job's output (print()).
  static auto logger = spdlog::get("tributary") ? spdlog::get("tributary") : spdlog::stderr_color_mt("tributary");
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  return true;
}

namespace {

// "1".."65535" -> port; false if malformed.
bool parse_port(const std::string& digits, uint16_t& port) {
  if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  int p = std::stoi(digits);
  if (p < 1 || p > 65535) return false;
  port = static_cast<uint16_t>(p);
  return true;
}

// "host:port" -> host, port; false if malformed.
bool split_host_port(const std::string& text, std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || !parse_port(text.substr(colon + 1), port)) return false;
  host = text.substr(0, colon);
  return true;
}

}  // namespace

std::optional<DStream<Text>> open_text_source(StreamingContext& ssc,
                                                     const std::string& source,
                                                     const GeneratorOptions& gen,
                                                     std::string& error) {
  if (source == "generator") return ssc.generatorStream(gen);
  const std::string scheme = "socket://";
  std::string host;
  uint16_t port = 0;
  // socket://HOST:PORT[?PARAM[&PARAM]], PARAM: idle-timeout-ms=N, max-line-kib=N or end-at-close
  const std::string usage =
      "--source must be 'generator' or socket://HOST:PORT[?PARAM[&PARAM]] (PARAM: idle-timeout-ms=N, "
      "max-line-kib=N, end-at-close)";
  std::string address = source.substr(std::min(source.size(), scheme.size())), query;
  if (auto q = address.find('?'); q != std::string::npos) {
    query = address.substr(q + 1);
    address = address.substr(0, q);
  }
  if (source.rfind(scheme, 0) != 0 || !split_host_port(address, host, port)) {
    error = usage + ", got '" + source + "'";
    return std::nullopt;
  }
  SocketOptions socket;
  const std::string idle = "idle-timeout-ms=", max_line = "max-line-kib=";
  auto number_after = [](const std::string& param, const std::string& name) -> std::optional<int64_t> {
    if (param.rfind(name, 0) != 0 || param.size() == name.size() || param.size() - name.size() > 12 ||
        param.find_first_not_of("0123456789", name.size()) != std::string::npos)
      return std::nullopt;
    return std::stoll(param.substr(name.size()));
  };
  for (std::size_t at = 0; !query.empty() && at <= query.size();) {
    std::size_t amp = std::min(query.find('&', at), query.size());
    std::string param = query.substr(at, amp - at);
    at = amp + 1;
    if (param == "end-at-close") {
      socket.end_at_close = true;
    } else if (auto ms = number_after(param, idle)) {
      socket.idle_timeout_ms = *ms;
    } else if (auto kib = number_after(param, max_line)) {
      if (*kib < 1 || static_cast<std::size_t>(*kib) > (SocketOptions::kMaxLineLimit >> 10)) {
        error = "--source: max-line-kib must be 1.." + std::to_string(SocketOptions::kMaxLineLimit >> 10) +
                ", got " + std::to_string(*kib) + " in '" + source + "'";
        return std::nullopt;
      }
      socket.max_line_bytes = static_cast<std::size_t>(*kib) << 10;
    } else {
      error = usage + ": unknown parameter '" + param + "' in '" + source + "'";
      return std::nullopt;
    }
  }
  return ssc.socketTextStream(host, port, socket);
}

void add_cluster_flags(Flags& flags, ClusterFlags* cluster) {
  flags.add("listen", &cluster->listen,
            "coordinator: accept worker nodes on PORT (127.0.0.1 only) or HOST:PORT; any address "
            "but loopback needs the --tls-* flags or --insecure")
      .add("join", &cluster->join, "worker: run tasks for the coordinator at HOST:PORT")
      .add("tls-ca", &cluster->tls_ca, "mutual TLS: the cluster CA's certificate (PEM); peers must hold a certificate it signed")
      .add("tls-cert", &cluster->tls_cert, "mutual TLS: this node's certificate (PEM), signed by --tls-ca")
      .add("tls-key", &cluster->tls_key, "mutual TLS: this node's private key (PEM, unencrypted)")
      .add_switch("insecure", &cluster->insecure,
                  "coordinator: allow --listen on a non-loopback address without TLS (anyone reaching it can join)")
      .add("join-timeout", &cluster->join_timeout, "worker: seconds to keep trying to reach the coordinator")
      .add("worker-timeout-ms", &cluster->worker_timeout_ms,
           "coordinator: give up on a worker silent (no heartbeat, a state task unanswered) this long; "
           "0: max(1000, 10 batch intervals)")
      .add("min-workers", &cluster->min_workers, "coordinator: wait for this many workers before the first batch")
      .add("min-workers-wait", &cluster->min_workers_wait, "coordinator: seconds to wait for --min-workers at most")
      .add("coordinator-map-slots", &cluster->coordinator_map_slots,
           "coordinator with workers: map tasks it still runs itself at once, where their input is (only "
           "their combined output crosses the network); -1: one per scheduler thread; 0: all on the workers")
      .add("events", &cluster->events,
           "append job events (workers joined/lost, state partitions placed/moved, checkpoints, recovery) "
           "to FILE as JSON lines")
      .add("max-peers", &cluster->max_peers,
           "coordinator: open peer connections at most (workers and connections still authenticating); "
           "more are reset at once")
      .add("handshake-ms", &cluster->peer_handshake_ms,
           "coordinator: close a peer connection that has not finished the TLS handshake (without TLS: "
           "sent its CAF handshake) this long after connecting")
      .add("max-frame-mb", &cluster->max_frame_mb,
           "coordinator without TLS: drop a peer whose CAF frame announces more than this many MiB");
}

namespace {

// --listen: "PORT" (loopback) or "HOST:PORT"; "" or "0": not listening.
bool parse_listen(const std::string& text, std::string& host, uint16_t& port) {
  host = "127.0.0.1";
  port = 0;
  if (text.empty() || text == "0") return true;
  if (text.find(':') == std::string::npos) return parse_port(text, port);
  if (!split_host_port(text, host, port)) return false;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')  // [::1]:PORT
    host = host.substr(1, host.size() - 2);
  return true;
}

}  // namespace

std::string apply_cluster_flags(const ClusterFlags& cluster, StreamingOptions& options) {
  std::string listen_host;
  uint16_t listen_port = 0;
  if (!parse_listen(cluster.listen, listen_host, listen_port))
    return "--listen must be PORT or HOST:PORT (port 1..65535), got '" + cluster.listen + "'";
  if (listen_port > 0 && !cluster.join.empty()) return "use either --listen or --join, not both";
  if (cluster.join_timeout <= 0) return "--join-timeout must be positive";
  if (cluster.worker_timeout_ms < 0) return "--worker-timeout-ms must be >= 0";
  if (cluster.min_workers < 0 || cluster.min_workers_wait < 0)
    return "--min-workers and --min-workers-wait must be >= 0";
  if (cluster.min_workers > 0 && listen_port == 0) return "--min-workers needs --listen";
  if (cluster.coordinator_map_slots < -1 || cluster.coordinator_map_slots > 4096)
    return "--coordinator-map-slots must be -1 (one per scheduler thread) or 0..4096, got " +
           std::to_string(cluster.coordinator_map_slots);
  if (cluster.max_peers > 100000 || cluster.max_frame_mb > 4095 || cluster.max_frame_mb < 1)
    return "--max-peers must be 1..100000 and --max-frame-mb 1..4095";
  PeerLimits peers{static_cast<int>(cluster.max_peers), cluster.peer_handshake_ms,
                   static_cast<uint32_t>(cluster.max_frame_mb) << 20};
  if (auto error = check_peer_limits(peers); !error.empty()) return error;
  std::string host;
  uint16_t port = 0;
  if (!cluster.join.empty() && !split_host_port(cluster.join, host, port))
    return "--join must be HOST:PORT, got '" + cluster.join + "'";
  TransportOptions transport;
  transport.tls = {cluster.tls_ca, cluster.tls_cert, cluster.tls_key};
  transport.insecure = cluster.insecure;
  if (auto error = check_tls_files(transport.tls); !error.empty()) return error;
  if (listen_port > 0)
    if (auto error = check_listen_address(listen_host, transport); !error.empty()) return error;
  options.listen_port = listen_port;
  options.listen_host = listen_host;
  options.tls = transport.tls;
  options.insecure = cluster.insecure;
  options.peer_limits = peers;
  options.worker_timeout_ms = cluster.worker_timeout_ms;
  options.min_workers = static_cast<int>(cluster.min_workers);
  options.min_workers_wait_ms = cluster.min_workers_wait * 1000;
  options.coordinator_map_slots = static_cast<int>(cluster.coordinator_map_slots);
  return {};
}

void add_recovery_flags(Flags& flags, RecoveryFlags* recovery) {
  flags.add_switch("start-fresh", &recovery->start_fresh,
                   "start a new job when the checkpoint directory holds checkpoints but none is "
                   "readable (by default the job refuses to start, naming each file and why)");
  flags.add_switch("accept-wal-loss", &recovery->accept_wal_loss,
                   "resume past corrupt write-ahead log entries, losing their records (counted in the "
                   "log); by default the job refuses to start, naming each file and byte offset");
}

void apply_recovery_flags(const RecoveryFlags& recovery, StreamingOptions& options) {
  options.start_fresh = recovery.start_fresh;
  options.accept_wal_loss = recovery.accept_wal_loss;
}

void add_ui_flags(Flags& flags, UiFlags* ui) {
  flags.add("ui-port", &ui->ui_port,
            "serve the job's web UI, /metrics and /api/v1/* on this port (-1: off; 0: any free port, "
            "logged); a worker (--join) serves none")
      .add("ui-host", &ui->ui_host, "the address the web UI listens on (it has no login: keep it on loopback)")
      .add("progress-seconds", &ui->progress_seconds,
           "log a progress line (rates, last batch's times, falling behind) this often (0: never)");
}

std::string apply_ui_flags(const UiFlags& ui, StreamingOptions& options) {
  if (ui.ui_port < -1 || ui.ui_port > 65535)
    return "--ui-port must be -1 (off), 0 (any free port) or 1..65535, got " + std::to_string(ui.ui_port);
  if (ui.progress_seconds < 0) return "--progress-seconds must be >= 0";
  options.ui_port = static_cast<int>(ui.ui_port);
  options.ui_host = ui.ui_host;
  options.progress_seconds = ui.progress_seconds;
  return {};
}

int run_worker_if_joining(StreamingContext& ssc, const ClusterFlags& cluster) {
  if (cluster.join.empty()) return -1;
  std::string host;
  uint16_t port = 0;
  split_host_port(cluster.join, host, port);
  try {
    ssc.runWorker(host, port, std::chrono::seconds(cluster.join_timeout));
  } catch (const WorkerEvicted& e) {
    spdlog::error("{}", e.what());
    return kEvictedExit;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}

namespace {

// The job ended by itself (--stop-after, a failure): its outputs and last
// checkpoint are on disk, and all that is left is the actor system's
// shutdown. A chaos campaign once saw that hang after "stopped gracefully"
// (not reproduced since); a supervisor would then wait for ever, so the
// process exits anyway after a bound, saying so.
void exit_if_shutdown_hangs(int code) {
  std::thread([code] {
    std::this_thread::sleep_for(std::chrono::seconds(20));
    spdlog::error("the job ended 20 s ago but the actor system has not shut down; exiting anyway ({})", code);
    spdlog::default_logger()->flush();
    std::fflush(nullptr);
    std::_Exit(code);
  }).detach();
}

}  // namespace

// SIGINT/SIGTERM: the context stops the job gracefully itself
// (StreamingOptions::stop_on_signal), and awaitTerminationOrTimeout sees it end.
int run_job(StreamingContext& ssc, int64_t duration_s, std::function<bool()> should_stop) {
  auto started = std::chrono::steady_clock::now();
  try {
    ssc.start();
    while (!ssc.awaitTerminationOrTimeout(std::chrono::milliseconds(100))) {
      bool timed_out = duration_s > 0 && std::chrono::steady_clock::now() - started >=
                                             std::chrono::seconds(duration_s);
      bool asked = should_stop && should_stop();
      if (timed_out || asked) {
        spdlog::info("{}; stopping gracefully", timed_out ? "duration reached" : "done");
        ssc.stop(/*graceful=*/true);
        break;
      }
    }
    exit_if_shutdown_hangs(0);
    ssc.awaitTermination();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    exit_if_shutdown_hangs(1);
    return 1;
  }
  return 0;
}

int run_declared_job(const std::function<std::unique_ptr<StreamingContext>()>& factory,
                     const ClusterFlags& cluster, const std::string& checkpoint_dir,
                     int64_t duration_s, int64_t stop_after) {
  std::unique_ptr<StreamingContext> ssc;
  try {
    if (!cluster.join.empty()) {  // a worker: same pipeline, no checkpoint of its own
      ssc = factory();
      int code = run_worker_if_joining(*ssc, cluster);
      if (code != kEvictedExit) return code;
      ssc.reset();  // out of the cluster before a new process joins it
      return is_respawned_worker() ? code : respawn_worker();
    }
    ssc = checkpoint_dir.empty() ? factory() : StreamingContext::getOrCreate(checkpoint_dir, factory);
  } catch (const RecoveryRefused& e) {
    spdlog::error("refusing to recover: {}", e.what());
    return kRecoveryRefusedExit;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  if (!cluster.events.empty()) {
    std::shared_ptr<std::FILE> out(std::fopen(cluster.events.c_str(), "a"), [](std::FILE* f) {
      if (f) std::fclose(f);
    });
    if (!out) {
      spdlog::error("--events {}: {}", cluster.events, std::strerror(errno));
      return 2;
    }
    // One line per event, flushed at once: readers follow the file live.
    ssc->addEventListener([out](const JobEvent& e) {
      std::string line = to_json(e) + "\n";
      std::fwrite(line.data(), 1, line.size(), out.get());
      std::fflush(out.get());
    });
  }
  // Counted by the coordinator from the job's first batch, so across restarts.
  if (stop_after > 0) ssc->stopAfterBatches(stop_after);
  return run_job(*ssc, duration_s);
}

}  // namespace trib::cli
