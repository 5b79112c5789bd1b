// What the engine reports about each finished batch (Spark's BatchInfo).
#pragma once

#include <cstdint>
#include <optional>

namespace trib {

struct BatchInfo {
  int64_t batch_time_ms = 0;         // the end of the batch interval
  int64_t batch_index = 0;           // 0 for the job's first batch (kept across restarts)
  int64_t input_records = 0;
  double scheduling_delay_ms = 0;    // interval end -> first task started
  double processing_time_ms = 0;     // first task started -> outputs emitted
  double total_delay_ms = 0;         // interval end -> outputs emitted
  // Event time (dstream/event_time.hpp), for jobs with event-time windows:
  std::optional<int64_t> watermark_ms;  // the watermark the batch ran with (lowest over operators)
  int64_t late_records = 0;             // records dropped as later than the allowed lateness
  int64_t event_windows_open = 0;       // event-time windows held in state after the batch
};

}  // namespace trib
