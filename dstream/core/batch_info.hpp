// What the engine reports about each finished batch (Spark's BatchInfo).
#pragma once

#include <cstdint>

namespace trib {

struct BatchInfo {
  int64_t batch_time_ms = 0;         // the end of the batch interval
  int64_t batch_index = 0;           // 0 for the job's first batch (kept across restarts)
  int64_t input_records = 0;
  double scheduling_delay_ms = 0;    // interval end -> first task started
  double processing_time_ms = 0;     // first task started -> outputs emitted
  double total_delay_ms = 0;         // interval end -> outputs emitted
};

}  // namespace trib
