// The apps' flags, parsed by CLI11: --name value or --name=value, switches
// as --name or --name=yes|no|true|false|1|0, --help with aligned columns.
// Every flag can also come from the environment (TRIB_<NAME>, dashes as
// underscores: TRIB_BATCH_MS=500) or from a file given with --config FILE
// (lines `batch-ms = 500`, `# comments`). The command line wins over the
// file, the file over the environment, and the environment over the
// default: the value the target variable holds when the flag is declared.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dstream/streaming_context.hpp"
#include "io/generator_receiver.hpp"

namespace CLI {
class App;
}

namespace trib::cli {

class Flags {
 public:
  Flags(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  Flags& add(std::string name, std::string* target, std::string help);
  Flags& add(std::string name, int64_t* target, std::string help);
  Flags& add(std::string name, double* target, std::string help);
  Flags& add_switch(std::string name, bool* target, std::string help);

  enum class Result { ok, help, error };
  // On error, `error` names the offending flag or value.
  Result parse(int argc, char** argv, std::string& error);

  std::string usage() const;

 private:
  struct Flag {
    std::string name, help, default_text;
    enum class Kind { text, integer, real, boolean } kind;
    void* target;  // std::string, int64_t, double or bool, as `kind` says
  };
  // A CLI11 parser over the declared flags, writing to their targets.
  std::unique_ptr<CLI::App> make_app(std::string* bad_value) const;

  std::string program_, summary_;
  std::vector<Flag> flags_;
};

// Parses the flags, printing usage for --help (exit 0) and an error plus
// usage for bad flags (exit 2). Returns -1 to continue, else the exit code.
int parse_or_exit_code(Flags& flags, int argc, char** argv);

// Prints "error: <what>" and the usage to stderr; returns exit code 2.
int usage_error(const Flags& flags, const std::string& what);

// Sends logs to stderr at --log-level (trace, debug, info, warn, error,
// critical, off); false if the level is unknown.
bool init_logging(const std::string& level);

// The --source help of the apps that call open_text_source.
inline constexpr const char* kTextSourceHelp =
    "'generator' or socket://HOST:PORT; ?idle-timeout-ms=N reconnects after N ms without data, "
    "?end-at-close ends the job (all received processed) when the server closes; ?max-line-kib=N cuts "
    "lines longer than N KiB (default 1024); several: ?idle-timeout-ms=N&end-at-close";

// The text source named by --source: "generator" (the built-in generator
// with `gen`) or socket://HOST:PORT[?PARAM[&PARAM]], PARAM idle-timeout-ms=N,
// max-line-kib=N or end-at-close (SocketOptions). Empty, with `error` set,
// if malformed.
std::optional<DStream<Text>> open_text_source(StreamingContext& ssc,
                                                     const std::string& source,
                                                     const GeneratorOptions& gen,
                                                     std::string& error);

// --listen [HOST:]PORT and --join HOST:PORT: run as a coordinator that
// accepts workers, or as a worker of another process's coordinator; with
// --tls-ca/--tls-cert/--tls-key, over mutual TLS.
struct ClusterFlags {
  std::string listen;  // PORT (on 127.0.0.1) or HOST:PORT; empty or 0: none
  std::string join;
  std::string tls_ca, tls_cert, tls_key;
  bool insecure = false;  // allow a non-loopback --listen without TLS
  int64_t join_timeout = 30;  // seconds to keep trying to reach the coordinator
  int64_t worker_timeout_ms = 0;  // coordinator: when a silent worker is given up on (0: scaled)
  int64_t min_workers = 0;            // coordinator: workers to wait for before the first batch
  int64_t min_workers_wait = 30;      // coordinator: seconds to wait for them at most
  int64_t coordinator_map_slots = -1;  // coordinator: map tasks it runs itself at once (-1: one per core)
  int64_t max_peers = PeerLimits{}.max_peers;                          // coordinator: open peer connections
  int64_t peer_handshake_ms = PeerLimits{}.handshake_timeout_ms;       // coordinator: to authenticate
  int64_t max_frame_mb = PeerLimits{}.max_frame_bytes >> 20;           // coordinator, no TLS: largest frame
  std::string events;                 // write job events here as JSON lines (tests, tools)
};
void add_cluster_flags(Flags& flags, ClusterFlags* cluster);
// Checks the cluster flags (the TLS files are read); sets the options'
// listen address, TLS files and worker settings. Empty on success, else what
// is wrong.
std::string apply_cluster_flags(const ClusterFlags& cluster, StreamingOptions& options);
// What a restarted job may give up when its checkpoint directory is
// damaged; by default it gives up nothing and refuses to start.
struct RecoveryFlags {
  bool start_fresh = false;  // no checkpoint readable: start a new job anyway
  bool accept_wal_loss = false;  // corrupt write-ahead log entries: go on without them
};
void add_recovery_flags(Flags& flags, RecoveryFlags* recovery);
void apply_recovery_flags(const RecoveryFlags& recovery, StreamingOptions& options);

// --ui-port, --ui-host, --progress-seconds: the job's web UI, /metrics and
// JSON status API, and its progress line (StreamingOptions::ui_port, ...).
struct UiFlags {
  int64_t ui_port = -1;  // -1: off; 0: any free port
  std::string ui_host = "127.0.0.1";
  int64_t progress_seconds = 10;
};
void add_ui_flags(Flags& flags, UiFlags* ui);
// Checks them and sets the options; empty on success, else what is wrong.
std::string apply_ui_flags(const UiFlags& ui, StreamingOptions& options);

// In worker mode (--join): runs as a worker until the coordinator is gone;
// returns the exit code (kEvictedExit when the coordinator gave up on it).
// -1 when not in worker mode.
int run_worker_if_joining(StreamingContext& ssc, const ClusterFlags& cluster);

// Runs the job `factory` declares, as the flags say: as a worker (--join),
// else as a coordinator or single process that resumes from checkpoint_dir
// when it is set (getOrCreate). Stops gracefully after `stop_after` batches
// (0: never) or `duration_s` seconds (0: never). Returns the exit code.
int run_declared_job(const std::function<std::unique_ptr<StreamingContext>()>& factory,
                     const ClusterFlags& cluster, const std::string& checkpoint_dir,
                     int64_t duration_s, int64_t stop_after);

// Starts the job and runs it until `duration_s` seconds passed (0: forever),
// SIGINT/SIGTERM, or `should_stop` returns true, then stops gracefully.
// Returns the exit code: 0, or 1 with the error logged if the job failed.
int run_job(StreamingContext& ssc, int64_t duration_s,
            std::function<bool()> should_stop = nullptr);

}  // namespace trib::cli
