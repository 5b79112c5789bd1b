#include "apps/app_main.hpp"

#include "apps/malloc_huge_pages.hpp"

namespace trib::cli {

AppMain::AppMain(std::string program, std::string summary, unsigned groups, std::string log_level)
    : flags_(std::move(program), std::move(summary)), groups_(groups), log_level_(std::move(log_level)) {}

Flags& AppMain::add_log_level() {
  log_level_declared_ = true;
  return flags_.add("log-level", &log_level_, "trace, debug, info, warn, error or off");
}

int AppMain::parse(int argc, char** argv) {
  if (!log_level_declared_) add_log_level();
  if (!(groups_ & kNoReceivers))
    flags_.add("receive-buffer-mb", &receive_buffer_mb_,
               "MiB of read buffers the receivers may fill before they wait for batches to finish "
               "(-1: 2.56 per ms of batch interval, at least 128; mapped ahead, five slots at 1.28 per ms, "
               "at least 64; 0: no bound)");
  if (!(groups_ & kNoReceivers))
    flags_.add("map-ahead-slots", &map_ahead_slots_,
               "slots per interval in which receivers feeding only shuffles hand over their input, each "
               "mapped as it arrives (-1: one per 10 ms, 1-8 per partition, stopped for a stream whose "
               "map-side combine keeps more than 1 key in 22 records; 0: off, input is cut when the "
               "interval closes; N: N slots, never stopped)");
  if (groups_ & kCluster) add_cluster_flags(flags_, &cluster_);
  if (groups_ & kRecovery) add_recovery_flags(flags_, &recovery_);
  if (groups_ & kUi) add_ui_flags(flags_, &ui_);
  if (int code = parse_or_exit_code(flags_, argc, argv); code >= 0) return code;
  if (receive_buffer_mb_ < -1 || receive_buffer_mb_ > (int64_t{1} << 20))
    return usage_error("--receive-buffer-mb must be -1..1048576, got " + std::to_string(receive_buffer_mb_));
  if (map_ahead_slots_ < -1 || map_ahead_slots_ > 10000)
    return usage_error("--map-ahead-slots must be -1..10000, got " + std::to_string(map_ahead_slots_));
  use_malloc_huge_pages(argv);  // may start this program again, with the flags just checked
  if (!init_logging(log_level_)) return usage_error("unknown --log-level '" + log_level_ + "'");
  return -1;
}

int AppMain::usage_error(const std::string& what) const { return trib::cli::usage_error(flags_, what); }

int AppMain::apply(StreamingOptions& options) const {
  options.receive_buffer_mb = receive_buffer_mb_;
  options.map_ahead_slots = static_cast<int>(map_ahead_slots_);
  if (groups_ & kCluster)
    if (auto error = apply_cluster_flags(cluster_, options); !error.empty()) return usage_error(error);
  if (groups_ & kUi)
    if (auto error = apply_ui_flags(ui_, options); !error.empty()) return usage_error(error);
  if (groups_ & kRecovery) apply_recovery_flags(recovery_, options);
  return -1;
}

int AppMain::run(StreamingContext& ssc, int64_t duration_s) const {
  if (int code = run_worker_if_joining(ssc, cluster_); code >= 0) return code;
  return run_job(ssc, duration_s);
}

int AppMain::run_declared(const std::function<std::unique_ptr<StreamingContext>()>& factory,
                          const std::string& checkpoint_dir, int64_t duration_s, int64_t stop_after) const {
  return run_declared_job(factory, cluster_, checkpoint_dir, duration_s, stop_after);
}

}  // namespace trib::cli
