// The start-up every app shares, so an app's main() keeps only its own flags,
// checks and pipeline:
//
//   trib::cli::AppMain app("my_app", "What it does.", AppMain::kCluster | AppMain::kUi);
//   app.flags().add("batch-ms", &batch_ms, "...");            // the app's flags
//   if (int code = app.parse(argc, argv); code >= 0) return code;  // --help, bad flags, --log-level
//   if (batch_ms <= 0) return app.usage_error("--batch-ms must be positive");
//   trib::StreamingOptions options;
//   if (int code = app.apply(options); code >= 0) return code;     // the shared flag groups
//   trib::StreamingContext ssc(..., options);  ... the pipeline ...
//   return app.run(ssc, duration);             // worker (--join) or job, signals, exit code
//
// Exit codes: 0 (done, or --help), 1 (the job failed), 2 (a usage error),
// kRecoveryRefusedExit, 3 (a restart that would lose accepted records
// refused to start), kEvictedExit (a worker its coordinator gave up on).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "apps/cli.hpp"

namespace trib::cli {

class AppMain {
 public:
  // The shared flag groups an app offers (apps/cli.hpp), declared after its own flags.
  // kNoReceivers: the app reads no socket or file (queueStream, generators),
  // so --receive-buffer-mb and --map-ahead-slots, which shape how those readers
  // hand over their input, are not offered.
  enum Group : unsigned { kCluster = 1, kRecovery = 2, kUi = 4, kNoReceivers = 8 };

  // `log_level`: --log-level's default.
  AppMain(std::string program, std::string summary, unsigned groups = 0, std::string log_level = "info");

  // Where the app declares its own flags, before parse().
  Flags& flags() { return flags_; }
  // Declares --log-level at this point of the app's flags (parse() otherwise
  // declares it after them); returns flags() to go on declaring.
  Flags& add_log_level();

  // Declares the shared flags, parses argv and sets the log level. Returns -1
  // to go on, else the exit code: 0 after --help, 2 after a bad flag or level.
  int parse(int argc, char** argv);

  // Prints "error: <what>" and the usage to stderr; returns 2.
  int usage_error(const std::string& what) const;

  // Sets `options` from the shared flags (--receive-buffer-mb) and groups
  // (cluster, UI, recovery). Returns -1 on success, else 2 after printing
  // what is wrong.
  int apply(StreamingOptions& options) const;

  // --join was given: this process runs as another one's worker.
  bool joining() const { return !cluster_.join.empty(); }
  const ClusterFlags& cluster() const { return cluster_; }

  // Runs the job declared in `ssc`: as a worker with --join, else until
  // `duration_s` seconds (0: forever) or SIGINT/SIGTERM; see run_job().
  int run(StreamingContext& ssc, int64_t duration_s) const;

  // Runs the job `factory` declares, resuming from `checkpoint_dir` when set;
  // see run_declared_job().
  int run_declared(const std::function<std::unique_ptr<StreamingContext>()>& factory,
                   const std::string& checkpoint_dir, int64_t duration_s, int64_t stop_after) const;

 private:
  Flags flags_;
  unsigned groups_;
  std::string log_level_;
  bool log_level_declared_ = false;
  int64_t receive_buffer_mb_ = StreamingOptions{}.receive_buffer_mb;
  int64_t map_ahead_slots_ = StreamingOptions{}.map_ahead_slots;
  ClusterFlags cluster_;
  RecoveryFlags recovery_;
  UiFlags ui_;
};

}  // namespace trib::cli
