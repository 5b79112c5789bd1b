// Simulated sensor readings with event time, as a replayable "direct" source
// (like io/direct_generator.hpp): batch k takes the next readings_per_batch
// readings, reading i being a pure function of i, so a job restarted from a
// checkpoint reads exactly the readings it had not completed.
//
// Lines are "sensor,timestamp_ms,celsius". Reading i belongs to sensor
// i % sensors and happened at start_ms + i * step_ms, minus a pseudo-random
// delay of up to max_disorder_ms (it arrives out of order); every
// late_every-th reading is older by late_by_ms more (it arrives after its
// window closed).
#pragma once

#include <cstdint>
#include <string>

#include "dstream/core/graph.hpp"

namespace trib {

struct SensorReadingOptions {
  int sensors = 5;
  int64_t readings_per_batch = 600;
  int64_t start_ms = 1767225600000;  // 2026-01-01 00:00:00 UTC
  int64_t step_ms = 50;
  int64_t max_disorder_ms = 2000;
  int64_t late_every = 0;            // 0: no late readings
  int64_t late_by_ms = 120000;
  int64_t total = -1;                // stop after this many readings (-1: never)
};

// Reading i as a line.
std::string sensor_reading_line(const SensorReadingOptions& opts, int64_t i);

class SensorReadingsSource : public SourceNode {
 public:
  SensorReadingsSource(SensorReadingOptions opts, int partitions);

  bool poll(int64_t t, Dataset& out) override;
  std::string position() const override { return std::to_string(next_); }
  void seek(const std::string& position) override;

 private:
  SensorReadingOptions opts_;
  int partitions_;
  int64_t next_ = 0;
};

}  // namespace trib
