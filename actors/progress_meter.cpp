#include "actors/progress_meter.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace trib {

ProgressReport ProgressMeter::report(const JobStatus& now, int64_t elapsed_ms) {
  int64_t batches_before = prev_ ? prev_->batches_completed : 0;
  int64_t processed_before = prev_ ? prev_->processed_records : 0;
  int64_t received_before = prev_ ? prev_->received_records : 0;
  double prev_delay = prev_ && !prev_->batches.empty() ? prev_->batches.back().scheduling_delay_ms : 0;
  double seconds = std::max<int64_t>(elapsed_ms, 1) / 1000.0;
  int64_t done = now.batches_completed - batches_before;
  int64_t interval = now.batch_interval_ms;

  ProgressReport r;
  r.line = fmt::format("progress: {} batches in the last {:.0f} s ({} in all), {:.0f} records/s processed",
                       done, seconds, now.batches_completed,
                       (now.processed_records - processed_before) / seconds);
  if (!now.receivers.empty())
    r.line += fmt::format(", {:.0f} records/s received", (now.received_records - received_before) / seconds);
  if (!now.batches.empty()) {
    const BatchInfo& last = now.batches.back();
    r.line += fmt::format("; last batch: {} records, processing {:.1f} ms, scheduling delay {:.1f} ms, "
                          "total delay {:.1f} ms",
                          last.input_records, last.processing_time_ms, last.scheduling_delay_ms,
                          last.total_delay_ms);
  }
  r.line += fmt::format("; {} batches in flight", now.batches_in_flight);

  // The batches completed since the previous report (the ring keeps the newest).
  int64_t seen = std::min<int64_t>(done, static_cast<int64_t>(now.batches.size()));
  int64_t late = 0;
  for (auto it = now.batches.end() - seen; it != now.batches.end(); ++it)
    if (it->processing_time_ms > static_cast<double>(interval)) ++late;
  std::string why;
  auto also = [&why](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
  if (seen > 0 && late * 2 > seen)
    also(fmt::format("{} of the last {} batches took longer than the {} ms interval", late, seen, interval));
  if (!now.batches.empty()) {
    double delay = now.batches.back().scheduling_delay_ms;
    if (delay > static_cast<double>(interval) && delay > prev_delay)
      also(fmt::format("the scheduling delay grew from {:.0f} ms to {:.0f} ms", prev_delay, delay));
  }
  if (done == 0 && now.batches_in_flight > 0)
    also(fmt::format("no batch completed in the last {:.0f} s while {} wait", seconds, now.batches_in_flight));
  if (!why.empty())
    r.warning = "falling behind: " + why +
                " (more partitions or workers, a longer batch interval, or a rate limit / backpressure help)";
  prev_ = now;
  return r;
}

}  // namespace trib
