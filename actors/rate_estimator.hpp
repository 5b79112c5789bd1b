// Backpressure's rate estimator: Spark Streaming's PID controller. After
// each batch it proposes the ingest rate (records/s) the job can sustain,
// from how long the batch took and how far processing lags behind.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

namespace trib {

struct RateEstimatorOptions {
  double proportional = 1.0;
  double integral = 0.2;
  double derivative = 0.0;
  double min_rate = 100;  // records/s; never throttle below this
};

class PidRateEstimator {
 public:
  PidRateEstimator(int64_t batch_interval_ms, RateEstimatorOptions opts = {})
      : interval_ms_(batch_interval_ms), opts_(opts) {}

  // A new rate after a batch that finished at time_ms with `records`
  // records, `processing_ms` of processing and `scheduling_delay_ms` of
  // waiting; nothing when the batch says nothing about the rate.
  std::optional<double> compute(int64_t time_ms, int64_t records, double processing_ms,
                                double scheduling_delay_ms) {
    if (time_ms <= latest_time_ || records <= 0 || processing_ms <= 0) return std::nullopt;
    double delay_since_update = (time_ms - latest_time_) / 1000.0;
    double processing_rate = records / processing_ms * 1000.0;
    double error = latest_rate_ - processing_rate;
    // Records waiting because of the scheduling delay, spread over an interval.
    double historical_error = scheduling_delay_ms * processing_rate / interval_ms_;
    double d_error = (error - latest_error_) / delay_since_update;
    double rate = std::max(latest_rate_ - opts_.proportional * error -
                               opts_.integral * historical_error - opts_.derivative * d_error,
                           opts_.min_rate);
    latest_time_ = time_ms;
    if (first_) {  // no history yet: start from what this batch achieved
      first_ = false;
      latest_rate_ = processing_rate;
      latest_error_ = 0;
      return std::nullopt;
    }
    latest_rate_ = rate;
    latest_error_ = error;
    return rate;
  }

 private:
  int64_t interval_ms_;
  RateEstimatorOptions opts_;
  bool first_ = true;
  int64_t latest_time_ = -1;
  double latest_rate_ = -1;
  double latest_error_ = -1;
};

}  // namespace trib
