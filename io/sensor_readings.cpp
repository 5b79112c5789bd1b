#include "io/sensor_readings.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "dstream/core/hashing.hpp"
#include "dstream/core/text_block.hpp"

namespace trib {

std::string sensor_reading_line(const SensorReadingOptions& o, int64_t i) {
  int sensor = static_cast<int>(i % o.sensors);
  uint64_t r = splitmix64(static_cast<uint64_t>(i));  // a fixed pseudo-random value per reading
  int64_t ts = o.start_ms + i * o.step_ms -
               static_cast<int64_t>(r % static_cast<uint64_t>(o.max_disorder_ms + 1));
  if (o.late_every > 0 && i % o.late_every == o.late_every - 1) ts -= o.late_by_ms;
  double celsius = 15.0 + sensor * 1.5 + 3.0 * std::sin(static_cast<double>(i) / 500.0 + sensor) +
                   static_cast<double>((r >> 32) % 100) / 100.0 - 0.5;
  char line[96];
  std::snprintf(line, sizeof(line), "sensor-%d,%lld,%.2f", sensor, static_cast<long long>(ts), celsius);
  return line;
}

SensorReadingsSource::SensorReadingsSource(SensorReadingOptions opts, int partitions)
    : opts_(opts), partitions_(partitions) {
  name = "sensorReadings(direct)";
  if (opts_.sensors <= 0 || opts_.readings_per_batch <= 0 || opts_.step_ms < 0 ||
      opts_.max_disorder_ms < 0 || opts_.late_every < 0 || opts_.late_by_ms < 0)
    throw std::invalid_argument(
        "sensor readings: sensors and readings_per_batch must be positive, step, disorder, "
        "late_every and late_by >= 0");
}

bool SensorReadingsSource::poll(int64_t, Dataset& out) {
  int64_t end = next_ + opts_.readings_per_batch;
  if (opts_.total >= 0) end = std::min(end, opts_.total);
  std::vector<std::string> lines;
  for (int64_t i = next_; i < end; ++i) lines.push_back(sensor_reading_line(opts_, i));
  next_ = std::max(next_, end);
  out = split_text_into_partitions(std::move(lines), partitions_);
  return true;
}

void SensorReadingsSource::seek(const std::string& position) {
  try {
    next_ = std::stoll(position);
  } catch (const std::exception&) {
    throw std::runtime_error("sensor readings: bad position '" + position + "' in checkpoint");
  }
}

}  // namespace trib
