// Overload benchmark: feeds a job twice the rate it can sustain, once
// without and once with backpressure, and reports over time the ingest rate,
// the records waiting (received, not yet in a completed batch), the
// scheduling delay and the process's memory.
//
//   ./backpressure_bench --seconds 10
//
// The job does a fixed amount of work per record (--work), so its
// sustainable rate is measured first and the overload is relative to it.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "apps/app_main.hpp"
#include "dstream/streaming_context.hpp"
#include "io/generator_receiver.hpp"

namespace {

// Stands for real per-record work: a few microseconds of arithmetic.
int64_t busy_work(const std::string& line, int64_t iterations) {
  uint64_t h = line.size();
  for (int64_t i = 0; i < iterations; ++i) h = h * 6364136223846793005ULL + 1442695040888963407ULL;
  return static_cast<int64_t>(h & 1);
}

double rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

// Lines from a queue (std::string) or a receiver (Text).
template <class Line>
void declare_job(trib::DStream<Line> lines, int64_t work) {
  lines.map([work](const std::string& l) { return busy_work(l, work); })
      .reduce([](int64_t a, int64_t b) { return a + b; })
      .foreachRDD([](const std::vector<int64_t>&, int64_t) {});
}

// Records/s the job sustains: a backlog pushed through a queue stream.
double sustainable_rate(int64_t batch_ms, int64_t work) {
  trib::StreamingContext ssc{std::chrono::milliseconds(batch_ms)};
  auto queue = std::make_shared<trib::BatchQueue<std::string>>();
  trib::GeneratorOptions gen;
  for (int b = 0; b < 4; ++b) {
    std::vector<std::string> lines;
    for (int i = 0; i < 5000; ++i) lines.push_back(trib::generated_line(gen, b * 5000 + i));
    queue->push(lines);
  }
  declare_job(ssc.queueStream(queue), work);
  ssc.start();
  ssc.awaitBatches(4, std::chrono::minutes(5));
  ssc.stop(false);
  double records = 0, ms = 0;
  for (auto& b : ssc.completedBatches()) {
    records += static_cast<double>(b.input_records);
    ms += b.processing_time_ms;
  }
  return records / ms * 1000.0;
}

void run_overloaded(bool backpressure, double rate, int64_t batch_ms, int64_t work, int64_t seconds) {
  trib::StreamingOptions opts;
  opts.retained_batches = SIZE_MAX;  // the table sums every batch
  opts.backpressure = backpressure;
  trib::StreamingContext ssc(std::chrono::milliseconds(batch_ms), opts);
  trib::GeneratorOptions gen;
  gen.lines_per_second = rate;
  declare_job(ssc.generatorStream(gen), work);
  std::printf("\n%s backpressure, generator at %.0f records/s\n", backpressure ? "with" : "without", rate);
  std::printf("%6s %14s %14s %16s %14s %10s\n", "time s", "ingest rec/s", "batches done",
              "records waiting", "sched delay ms", "RSS MB");
  ssc.start();
  auto start = std::chrono::steady_clock::now();
  int64_t last_received = 0;
  for (int64_t s = 1; s <= seconds; ++s) {
    std::this_thread::sleep_until(start + std::chrono::seconds(s));
    auto done = ssc.completedBatches();
    int64_t received = ssc.receivedRecords(), processed = 0;
    for (auto& b : done) processed += b.input_records;
    double delay = done.empty() ? 0 : done.back().scheduling_delay_ms;
    std::printf("%6lld %14lld %14zu %16lld %14.0f %10.1f\n", static_cast<long long>(s),
                static_cast<long long>(received - last_received), done.size(),
                static_cast<long long>(received - processed), delay, rss_mb());
    std::fflush(stdout);
    last_received = received;
  }
  ssc.stop(false);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch_ms = 500, work = 50000, seconds = 10;
  double overload = 2.0;
  trib::cli::AppMain app("backpressure_bench",
                         "Overload a job with and without backpressure; report rate, backlog, delay, memory.",
                         trib::cli::AppMain::kNoReceivers, "warn");
  app.flags()
      .add("batch-ms", &batch_ms, "batch interval in milliseconds")
      .add("work", &work, "busy-loop iterations per record")
      .add("overload", &overload, "input rate as a multiple of the sustainable rate")
      .add("seconds", &seconds, "seconds per run");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  if (batch_ms <= 0 || work < 0 || overload <= 0 || seconds <= 0)
    return app.usage_error("--batch-ms, --overload and --seconds must be positive");

  double sustainable = sustainable_rate(batch_ms, work);
  std::printf("sustainable rate: %.0f records/s (%lld ms batches, %lld iterations per record)\n",
              sustainable, static_cast<long long>(batch_ms), static_cast<long long>(work));
  run_overloaded(false, overload * sustainable, batch_ms, work, seconds);
  run_overloaded(true, overload * sustainable, batch_ms, work, seconds);
  return 0;
}
