// Average temperature per sensor over the last 60 seconds, every second:
// the seed's second example. Readings are "sensor,celsius" lines from a TCP
// server (--source socket://HOST:PORT) or from a built-in simulated fleet.
//
//   ./sensor_temperature --duration 10
//
// With --event-time the windows are in the readings' own time: lines are
// "sensor,timestamp_ms,celsius" (from a socket, or from a replayable
// generator whose readings arrive out of order, some of them too late), the
// averages are per 60 s event-time window [start, end), and a reading that
// arrives after its window closed is counted, not put in the wrong window.
// With --checkpoint and --output it survives crashes like
// checkpointed_wordcount, and it runs across processes with --listen/--join.
//
//   ./sensor_temperature --event-time --duration 10 --late-every 50
#include <cmath>
#include <random>

#include <spdlog/spdlog.h>

#include "apps/app_main.hpp"
#include "apps/cli.hpp"
#include "dstream/core/format.hpp"
#include "dstream/streaming_context.hpp"
#include "io/sensor_readings.hpp"

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

// Records need Cereal serialization: they can cross processes and go into
// checkpoints (the library refuses a record type without it at compile time).
struct Reading {
  std::string sensor;
  double celsius = 0;
  bool ok = false;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(sensor, celsius, ok);
  }
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

// "sensor,timestamp_ms,celsius"
struct TimedReading {
  std::string sensor;
  int64_t ts = 0;
  double celsius = 0;
  bool ok = false;

  template <class Archive>
  void serialize(Archive& ar) { ar(sensor, ts, celsius, ok); }
};

TimedReading parse_timed(const std::string& line) {
  TimedReading r;
  auto c1 = line.find(',');
  auto c2 = c1 == std::string::npos ? c1 : line.find(',', c1 + 1);
  if (c1 == std::string::npos || c1 == 0 || c2 == std::string::npos) return r;
  try {
    std::size_t used_ts = 0, used_c = 0;
    std::string ts = line.substr(c1 + 1, c2 - c1 - 1), c = line.substr(c2 + 1);
    r.ts = std::stoll(ts, &used_ts);
    r.celsius = std::stod(c, &used_c);
    r.ok = used_ts == ts.size() && used_c == c.size() && std::isfinite(r.celsius);
  } catch (...) {
  }
  r.sensor = line.substr(0, c1);
  return r;
}

struct EventTimeJob {
  std::string source = "generator", output, checkpoint_dir;
  int64_t batch_ms = 1000, window_s = 60, max_delay_ms = 5000, lateness_ms = 0, idle_ms = 0;
  std::string mode = "append";
  int64_t print_rows = 10;
  trib::SensorReadingOptions gen;
  trib::StreamingOptions options;
};

// Average per sensor over event-time windows; getOrCreate() runs it on every start.
std::unique_ptr<trib::StreamingContext> make_event_time_job(const EventTimeJob& job) {
  auto ssc = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(job.batch_ms), job.options);
  if (!job.checkpoint_dir.empty()) ssc->checkpoint(job.checkpoint_dir);
  std::optional<trib::DStream<trib::Text>> lines;
  std::string error;
  if (job.source == "generator")
    lines = ssc->sourceStream<trib::Text>(std::make_shared<trib::SensorReadingsSource>(job.gen, ssc->partitions()));
  else
    lines = trib::cli::open_text_source(*ssc, job.source, {}, error);
  if (!lines) throw std::invalid_argument("--source must be 'generator' or socket://HOST:PORT");
  auto readings = lines->map(parse_timed);
  readings.filter([](const TimedReading& r) { return !r.ok; })
      .count()
      .foreachRDD([](const std::vector<int64_t>& bad, int64_t) {
        if (!bad.empty() && bad[0] > 0) spdlog::warn("dropped {} malformed readings", bad[0]);
      });
  using SumCount = std::pair<double, int64_t>;
  using Timed = std::pair<int64_t, double>;  // (event time, celsius)
  using Keyed = std::pair<std::string, Timed>;
  auto windows = readings.filter([](const TimedReading& r) { return r.ok; })
                     .map([](const TimedReading& r) { return Keyed(r.sensor, Timed(r.ts, r.celsius)); })
                     .withTimestamps([](const Keyed& k) { return k.second.first; },
                                     std::chrono::milliseconds(job.max_delay_ms),
                                     std::chrono::milliseconds(job.idle_ms))
                     .window(trib::EventWindows::tumbling(std::chrono::seconds(job.window_s)))
                     .allowedLateness(std::chrono::milliseconds(job.lateness_ms))
                     .outputMode(job.mode == "update" ? trib::OutputMode::update : trib::OutputMode::append)
                     .aggregate(
                         SumCount(0, 0),
                         [](const SumCount& a, const Timed& v) { return SumCount(a.first + v.second, a.second + 1); },
                         [](const SumCount& a, const SumCount& b) { return SumCount(a.first + b.first, a.second + b.second); },
                         [](const SumCount& a) { return a; });
  windows.lateRecords().count().foreachRDD([](const std::vector<int64_t>& late, int64_t) {
    if (!late.empty() && late[0] > 0)
      spdlog::warn("dropped {} readings that arrived after their window closed", late[0]);
  });
  auto text = windows
                  .map([](const trib::WindowResult<std::string, SumCount>& w) {
                    char avg[32];
                    std::snprintf(avg, sizeof(avg), "%.2f", w.value.first / w.value.second);
                    return w.key + " [" + trib::format_utc_ms(w.start_ms) + ", " + trib::format_utc_ms(w.end_ms) + ") avg " + avg +
                           " C over " + std::to_string(w.value.second) + " readings";
                  })
                  .transform([](const std::vector<std::string>& rows, int64_t) {
                    auto sorted = rows;
                    std::sort(sorted.begin(), sorted.end());
                    return sorted;
                  });
  if (job.output.empty()) text.print(static_cast<std::size_t>(job.print_rows));
  else text.saveAsTextFiles(job.output);
  return ssc;
}

int run_event_time(int argc, char** argv) {
  EventTimeJob job;
  int64_t duration = 10, stop_after = 0, sensors = 5;
  bool event_time = false;
  using trib::cli::AppMain;
  AppMain app("sensor_temperature --event-time",
              "Average temperature per sensor over event-time windows of the readings' own "
              "timestamps, with a watermark; late readings are counted, not misplaced.",
              AppMain::kCluster | AppMain::kRecovery);
  app.flags()
      .add_switch("event-time", &event_time, "windows in event time (this mode)")
      .add("source", &job.source, "'generator' (replayable, out of order) or socket://HOST:PORT with "
                                  "'sensor,timestamp_ms,celsius' lines")
      .add("window", &job.window_s, "tumbling window length in seconds of event time")
      .add("max-delay-ms", &job.max_delay_ms, "watermark bound: readings may arrive this much out of order")
      .add("lateness-ms", &job.lateness_ms, "allowed lateness: windows stay open this much longer")
      .add("idle-ms", &job.idle_ms, "a partition without readings this long stops holding the watermark (0: never)")
      .add("output-mode", &job.mode, "append (each window once, when complete) or update (changed windows every batch)")
      .add("batch-ms", &job.batch_ms, "batch interval in milliseconds")
      .add("sensors", &sensors, "generator: sensors")
      .add("readings-per-batch", &job.gen.readings_per_batch, "generator: readings per batch")
      .add("step-ms", &job.gen.step_ms, "generator: event time between consecutive readings")
      .add("disorder-ms", &job.gen.max_disorder_ms, "generator: readings arrive up to this much out of order")
      .add("late-every", &job.gen.late_every, "generator: every Nth reading arrives --late-by-ms later (0: none)")
      .add("late-by-ms", &job.gen.late_by_ms, "generator: how much later those readings are")
      .add("total-readings", &job.gen.total, "generator: stop after this many readings (-1: never)")
      .add("rows", &job.print_rows, "rows to print per batch")
      .add("checkpoint", &job.checkpoint_dir, "checkpoint directory: resume from it after a crash")
      .add("output", &job.output, "write each batch's windows to PREFIX-<batch ms>/ instead of printing")
      .add("stop-after", &stop_after, "stop gracefully after this many batches (0: never)")
      .add("duration", &duration, "seconds to run (0: until Ctrl-C or --stop-after)");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  auto usage_error = [&](const std::string& what) { return app.usage_error(what); };
  if (job.window_s <= 0 || job.batch_ms <= 0 || sensors <= 0 || job.gen.readings_per_batch <= 0 ||
      job.print_rows <= 0)
    return usage_error("--window, --batch-ms, --sensors, --readings-per-batch and --rows must be positive");
  if (job.max_delay_ms < 0 || job.lateness_ms < 0 || job.idle_ms < 0 || job.gen.step_ms < 0 ||
      job.gen.max_disorder_ms < 0 || job.gen.late_every < 0 || job.gen.late_by_ms < 0 || duration < 0 ||
      stop_after < 0)
    return usage_error("--max-delay-ms, --lateness-ms, --idle-ms, --step-ms, --disorder-ms, --late-every, "
                       "--late-by-ms, --duration and --stop-after must be >= 0");
  if (job.mode != "append" && job.mode != "update")
    return usage_error("--output-mode must be append or update, got '" + job.mode + "'");
  if (job.source != "generator" && job.source.rfind("socket://", 0) != 0)
    return usage_error("--source must be 'generator' or socket://HOST:PORT, got '" + job.source + "'");
  job.gen.sensors = static_cast<int>(sensors);
  if (int code = app.apply(job.options); code >= 0) return code;
  return app.run_declared([&] { return make_event_time_job(job); }, job.checkpoint_dir, duration, stop_after);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--event-time") return run_event_time(argc, argv);
  std::string source = "simulated";
  int64_t duration = 10, window_s = 60, sensors = 5;
  double rate = 200;
  trib::cli::AppMain app("sensor_temperature",
                         "Average temperature per sensor over a sliding window, every second.",
                         trib::cli::AppMain::kUi);
  bool event_time = false;
  app.flags()
      .add_switch("event-time", &event_time, "windows in the readings' event time instead (see --event-time --help)")
      .add("source", &source, "'simulated' or socket://HOST:PORT with 'sensor,celsius' lines")
      .add("window", &window_s, "window length in seconds")
      .add("sensors", &sensors, "simulated sensors")
      .add("rate", &rate, "simulated readings per second")
      .add("duration", &duration, "seconds to run (0: until Ctrl-C)");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  if (window_s <= 0 || sensors <= 0 || duration < 0)
    return app.usage_error("--window and --sensors must be positive, --duration >= 0");

  trib::StreamingOptions options;
  if (int code = app.apply(options); code >= 0) return code;
  trib::StreamingContext ssc(std::chrono::seconds(1), options);
  std::optional<trib::DStream<trib::Text>> lines;
  std::string error = "--source must be 'simulated' or socket://HOST:PORT";
  if (source == "simulated")
    lines = ssc.receiverStream([&] { return std::make_unique<SensorFleet>(sensors, rate); }, "sensors");
  else if (source.rfind("socket://", 0) == 0)
    lines = trib::cli::open_text_source(ssc, source, {}, error);
  if (!lines) return app.usage_error(error);
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
  return app.run(ssc, duration);
}
