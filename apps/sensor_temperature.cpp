// Average temperature per sensor over the last 60 seconds, every second:
// the seed's second example. Readings are "sensor,celsius" lines from a TCP
// server (--source socket://HOST:PORT) or from a built-in simulated fleet.
//
//   ./sensor_temperature --duration 10
#include <cmath>
#include <random>

#include <spdlog/spdlog.h>

#include "apps/cli.hpp"
#include "dstream/streaming_context.hpp"

namespace {

// Simulated sensors: each drifts around its own base temperature.
class SensorFleet : public trib::Receiver {
 public:
  SensorFleet(int sensors, double readings_per_second)
      : sensors_(sensors), rate_(readings_per_second) {}
  std::string describe() const override { return "simulated sensors"; }
  void run(trib::ReceiverContext& ctx) override {
    std::mt19937 rng(42);
    std::normal_distribution<double> noise(0.0, 0.5);
    auto period = std::chrono::milliseconds(100);
    int per_tick = std::max(1, static_cast<int>(rate_ / 10));
    for (int64_t tick = 0; ctx.wait_for(period); ++tick) {
      std::vector<std::string> lines;
      for (int i = 0; i < per_tick; ++i) {
        int sensor = static_cast<int>(rng() % sensors_);
        double temp = 15.0 + sensor * 1.5 + 3.0 * std::sin(tick / 50.0 + sensor) + noise(rng);
        lines.push_back("sensor-" + std::to_string(sensor) + "," + std::to_string(temp));
      }
      ctx.store(std::move(lines));
    }
  }

 private:
  int sensors_;
  double rate_;
};

struct Reading {
  std::string sensor;
  double celsius = 0;
  bool ok = false;
};

Reading parse(const std::string& line) {
  Reading r;
  auto comma = line.find(',');
  if (comma == std::string::npos || comma == 0) return r;
  try {
    std::size_t used = 0;
    r.celsius = std::stod(line.substr(comma + 1), &used);
    r.ok = used == line.size() - comma - 1 && std::isfinite(r.celsius);
  } catch (...) {
  }
  r.sensor = line.substr(0, comma);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string source = "simulated", log_level = "info";
  int64_t duration = 10, window_s = 60, sensors = 5;
  double rate = 200;
  trib::cli::Flags flags("sensor_temperature",
                         "Average temperature per sensor over a sliding window, every second.");
  flags.add("source", &source, "'simulated' or socket://HOST:PORT with 'sensor,celsius' lines")
      .add("window", &window_s, "window length in seconds")
      .add("sensors", &sensors, "simulated sensors")
      .add("rate", &rate, "simulated readings per second")
      .add("duration", &duration, "seconds to run (0: until Ctrl-C)")
      .add("log-level", &log_level, "trace, debug, info, warn, error or off");
  trib::cli::UiFlags ui;
  trib::cli::add_ui_flags(flags, &ui);
  if (int code = trib::cli::parse_or_exit_code(flags, argc, argv); code >= 0) return code;
  if (!trib::cli::init_logging(log_level))
    return trib::cli::usage_error(flags, "unknown --log-level '" + log_level + "'");
  if (window_s <= 0 || sensors <= 0 || duration < 0)
    return trib::cli::usage_error(flags, "--window and --sensors must be positive, --duration >= 0");

  trib::StreamingOptions options;
  if (auto error = trib::cli::apply_ui_flags(ui, options); !error.empty()) return trib::cli::usage_error(flags, error);
  trib::StreamingContext ssc(std::chrono::seconds(1), options);
  std::optional<trib::DStream<trib::Text>> lines;
  std::string error = "--source must be 'simulated' or socket://HOST:PORT";
  if (source == "simulated")
    lines = ssc.receiverStream([&] { return std::make_unique<SensorFleet>(sensors, rate); }, "sensors");
  else if (source.rfind("socket://", 0) == 0)
    lines = trib::cli::open_text_source(ssc, source, {}, error);
  if (!lines) return trib::cli::usage_error(flags, error);
  auto readings = lines->map(parse);
  // Malformed lines are dropped, and counted so they are not silent.
  readings.filter([](const Reading& r) { return !r.ok; })
      .count()
      .foreachRDD([](const std::vector<int64_t>& bad, int64_t) {
        if (!bad.empty() && bad[0] > 0) spdlog::warn("dropped {} malformed readings", bad[0]);
      });
  using SumCount = std::pair<double, int64_t>;
  readings.filter([](const Reading& r) { return r.ok; })
      .map([](const Reading& r) { return std::pair<std::string, SumCount>(r.sensor, {r.celsius, 1}); })
      .reduceByKeyAndWindow(
          [](const SumCount& a, const SumCount& b) { return SumCount(a.first + b.first, a.second + b.second); },
          std::chrono::seconds(window_s), std::chrono::seconds(1))
      .map([](const std::pair<std::string, SumCount>& kv) {
        char avg[32];
        std::snprintf(avg, sizeof(avg), "%.2f", kv.second.first / kv.second.second);
        return kv.first + " avg " + avg + " C over " + std::to_string(kv.second.second) + " readings";
      })
      .transform([](const std::vector<std::string>& rows, int64_t) {
        auto sorted = rows;
        std::sort(sorted.begin(), sorted.end());
        return sorted;
      })
      .print(static_cast<std::size_t>(sensors));
  return trib::cli::run_job(ssc, duration);
}
