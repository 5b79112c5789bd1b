// The engine's fixed costs, apart from any real work:
//
//  narrow  a narrow chain over int64 records from queueStream
//          (map -> filter -> map), ending either in reduce(+) (each
//          partition sums its records, the sink sees one) or in foreachRDD
//          over every record (the sink gets the whole batch as one vector);
//          records/s over the batches' processing time, against the same
//          chain as one plain loop; the sums must agree.
//  idle    an empty word count pipeline (source -> flatMap -> map ->
//          reduceByKey -> foreachRDD) on --partitions partitions at
//          --batch-ms batches: the process's CPU time per second of wall
//          time, i.e. what coordinating empty batches costs.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <spdlog/spdlog.h>

#include "apps/app_main.hpp"
#include "dstream/core/text.hpp"
#include "dstream/streaming_context.hpp"

namespace {

using namespace std::chrono;

// The chain both sides compute: x -> 3x+1, keep what 7 does not divide, x ^ 0x5bd1.
inline int64_t first(int64_t x) { return 3 * x + 1; }
inline bool keep(int64_t x) { return x % 7 != 0; }
inline int64_t second(int64_t x) { return x ^ 0x5bd1; }

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

struct NarrowResult {
  double loop_per_s = 0, engine_per_s = 0, p50_ms = 0, p99_ms = 0;
};

double percentile(std::vector<double> xs, double p) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  return xs[std::min(xs.size() - 1, static_cast<std::size_t>(p * (xs.size() - 1) + 0.5))];
}

NarrowResult run_narrow(int64_t records_per_batch, int64_t batches, int64_t batch_ms, int partitions,
                        bool every_record) {
  std::vector<std::vector<int64_t>> data(static_cast<std::size_t>(batches));
  uint64_t seed = 0x9e3779b97f4a7c15ULL;
  for (auto& b : data) {
    b.resize(static_cast<std::size_t>(records_per_batch));
    for (auto& x : b) {
      seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
      x = static_cast<int64_t>(seed >> 20);
    }
  }

  NarrowResult r;
  int64_t expected = 0;
  auto t0 = steady_clock::now();
  for (const auto& b : data)
    for (int64_t x : b) {
      int64_t y = first(x);
      if (keep(y)) expected += second(y);
    }
  double loop_s = duration<double>(steady_clock::now() - t0).count();
  r.loop_per_s = static_cast<double>(records_per_batch * batches) / loop_s;

  trib::StreamingOptions opts;
  opts.partitions = partitions;
  trib::StreamingContext ssc(milliseconds(batch_ms), opts);
  auto queue = std::make_shared<trib::BatchQueue<int64_t>>();
  for (auto& b : data) queue->push(std::move(b));
  auto sum = std::make_shared<std::atomic<int64_t>>(0);
  auto chain = ssc.queueStream(queue)
                   .map([](int64_t x) { return first(x); })
                   .filter([](int64_t x) { return keep(x); })
                   .map([](int64_t x) { return second(x); });
  auto add_up = [sum](const std::vector<int64_t>& xs, int64_t) {
    int64_t s = 0;
    for (int64_t x : xs) s += x;
    *sum += s;
  };
  if (every_record)
    chain.foreachRDD(add_up);
  else
    chain.reduce(std::plus<int64_t>()).foreachRDD(add_up);
  ssc.start();
  if (!ssc.awaitBatches(static_cast<std::size_t>(batches), minutes(5)))
    throw std::runtime_error("the engine did not finish the batches");
  ssc.stop(false);
  if (sum->load() != expected)
    throw std::runtime_error("engine sum " + std::to_string(sum->load()) + " differs from the loop's " +
                             std::to_string(expected));
  double records = 0, busy_ms = 0;
  std::vector<double> processing;
  for (const auto& b : ssc.completedBatches()) {
    if (b.input_records == 0) continue;
    records += static_cast<double>(b.input_records);
    busy_ms += b.processing_time_ms;
    processing.push_back(b.processing_time_ms);
  }
  r.engine_per_s = records / (busy_ms / 1000.0);
  r.p50_ms = percentile(processing, 0.5);
  r.p99_ms = percentile(processing, 0.99);
  return r;
}

// Fraction of one core the process spends while its pipeline sees no input.
double run_idle(int64_t batch_ms, int partitions, double seconds) {
  trib::StreamingOptions opts;
  opts.partitions = partitions;
  trib::StreamingContext ssc(milliseconds(batch_ms), opts);
  auto queue = std::make_shared<trib::BatchQueue<std::string>>();
  ssc.queueStream(queue)
      .flatMap([](const std::string& line) { return trib::split_words(trib::Text(line.data(), line.size())); })
      .map([](trib::Text w) { return std::make_pair(w, int64_t{1}); })
      .reduceByKey(std::plus<int64_t>())
      .foreachRDD([](const std::vector<std::pair<trib::Text, int64_t>>&, int64_t) {});
  ssc.start();
  ssc.awaitBatches(3, milliseconds(5000 + 3 * batch_ms));  // past start-up
  double cpu0 = cpu_seconds();
  auto t0 = steady_clock::now();
  std::size_t batches0 = ssc.completedBatches().size();
  std::this_thread::sleep_for(duration<double>(seconds));
  double cpu = cpu_seconds() - cpu0;
  double wall = duration<double>(steady_clock::now() - t0).count();
  std::size_t ran = ssc.completedBatches().size() - batches0;
  ssc.stop(false);
  if (ran < static_cast<std::size_t>(0.5 * seconds * 1000.0 / static_cast<double>(batch_ms)))
    throw std::runtime_error("only " + std::to_string(ran) + " empty batches ran in " +
                             std::to_string(wall) + " s");
  return cpu / wall;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t records = 10'000'000, batches = 5, narrow_batch_ms = 1000, idle_batch_ms = 10, partitions = 0,
          idle_partitions = 8;
  double idle_seconds = 5;
  bool markdown = false;
  trib::cli::AppMain app("engine_overhead_bench",
                         "The engine's fixed costs: a narrow int64 chain vs a plain loop, and the CPU an "
                         "idle pipeline burns coordinating empty batches.",
                         trib::cli::AppMain::kNoReceivers, "warn");
  app.flags()
      .add("records", &records, "int64 records in each narrow-chain batch")
      .add("batches", &batches, "narrow-chain batches")
      .add("batch-ms", &narrow_batch_ms, "narrow-chain batch interval")
      .add("partitions", &partitions, "narrow-chain partitions (0: one per core)")
      .add("idle-batch-ms", &idle_batch_ms, "idle pipeline batch interval")
      .add("idle-partitions", &idle_partitions, "idle pipeline partitions")
      .add("idle-seconds", &idle_seconds, "how long to measure the idle pipeline");
  app.add_log_level()
      .add_switch("markdown", &markdown, "print Markdown tables");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  if (records <= 0 || batches <= 0 || narrow_batch_ms <= 0 || idle_batch_ms <= 0 || partitions < 0 ||
      idle_partitions <= 0 || idle_seconds <= 0)
    return app.usage_error("counts and times must be positive (--partitions may be 0)");
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  try {
    NarrowResult n = run_narrow(records, batches, narrow_batch_ms, static_cast<int>(partitions), false);
    NarrowResult all = run_narrow(records, batches, narrow_batch_ms, static_cast<int>(partitions), true);
    double idle = run_idle(idle_batch_ms, static_cast<int>(idle_partitions), idle_seconds);
    const char* row = markdown ? "| %s | %s |\n" : "%-68s %s\n";
    auto line = [&](const std::string& what, const std::string& value) {
      std::printf(row, what.c_str(), value.c_str());
    };
    char buf[96];
    if (markdown) std::printf("| measure (%d cores) | value |\n|---|---:|\n", cores);
    std::snprintf(buf, sizeof buf, "%.1f M", n.loop_per_s / 1e6);
    line("narrow int64 chain, plain loop on 1 thread: records/s", buf);
    std::snprintf(buf, sizeof buf, "%.1f M (%.2fx the loop)", n.engine_per_s / 1e6,
                  n.engine_per_s / n.loop_per_s);
    line("narrow int64 chain -> reduce(+), engine: records/s", buf);
    std::snprintf(buf, sizeof buf, "%.1f / %.1f", n.p50_ms, n.p99_ms);
    line("  its batch processing p50 / p99 ms (" + std::to_string(records) + " records)", buf);
    std::snprintf(buf, sizeof buf, "%.1f M (%.2fx the loop)", all.engine_per_s / 1e6,
                  all.engine_per_s / all.loop_per_s);
    line("narrow int64 chain -> foreachRDD(every record), engine: records/s", buf);
    std::snprintf(buf, sizeof buf, "%.1f / %.1f", all.p50_ms, all.p99_ms);
    line("  its batch processing p50 / p99 ms", buf);
    std::snprintf(buf, sizeof buf, "%.1f %%", 100 * idle);
    line("idle pipeline, " + std::to_string(idle_partitions) + " partitions, " + std::to_string(idle_batch_ms) +
             " ms batches: CPU (% of one core)",
         buf);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
