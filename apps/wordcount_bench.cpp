// Word count benchmark: the engine against a plain single-threaded loop over
// the same lines, at several batch intervals and partition counts.
//
// Each configuration feeds --batches batches of --lines-per-batch generated
// lines through queueStream -> flatMap(split) -> map -> reduceByKey ->
// foreachRDD, and reports throughput (input lines / processing time),
// throughput per core, and batch latency (interval close -> sink output).
// The engine's word totals are checked against the loop's and a plain count
// before reporting. --checkpoints adds the stateful jobs: running totals
// (updateStateByKey) and a window of 3 batches sliding by 1 (incremental
// reduceByKeyAndWindow), each without and with a checkpoint per batch.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "apps/app_main.hpp"
#include "bench/word_count_loop.hpp"
#include "dstream/streaming_context.hpp"
#include "io/generator_receiver.hpp"
#include "dstream/core/text.hpp"
#include "recovery/durable_file.hpp"

namespace {

using Lines = std::vector<std::string>;
using Count = std::pair<std::string, int64_t>;
using TextCount = std::pair<trib::Text, int64_t>;

struct Row {
  std::string name;
  double records_per_s = 0, per_core = 0, p50_ms = 0, p99_ms = 0;
  bool keeps_up = true;
};

std::vector<int64_t> parse_list(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoll(item));
  return out;
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  return xs[std::min(xs.size() - 1, static_cast<std::size_t>(p * (xs.size() - 1) + 0.5))];
}

// The baseline: the competent single-threaded loop (bench/word_count_loop.hpp)
// over each batch's bytes, folding its table once per batch. The batches are
// laid out as text beforehand, as a socket would deliver them.
Row plain_loop(const std::vector<Lines>& batches, int64_t& total_words) {
  std::vector<std::string> texts;
  for (const auto& batch : batches) {
    std::string text;
    for (const auto& line : batch) text += line + "\n";
    texts.push_back(std::move(text));
  }
  auto start = std::chrono::steady_clock::now();
  uint64_t lines = 0, words = 0, folded = 0, checksum = 0;
  wordloop::WordTable table;
  for (auto& text : texts) {
    std::size_t n = text.size();
    text.append(64, ' ');  // the loop reads 64 bytes past the end
    wordloop::count_chunk(text.data(), n, table, lines, words);
    table.fold(folded, checksum);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  total_words = static_cast<int64_t>(folded);
  Row row;
  row.name = "competent loop, 1 thread";
  row.records_per_s = static_cast<double>(lines) / secs;
  row.per_core = row.records_per_s;
  return row;
}

// What the job does with each batch's counts.
enum class Job {
  counts,          // per batch (reduceByKey)
  running_totals,  // since the start (updateStateByKey)
  window,          // over the last kWindowBatches batches, every batch (incremental reduceByKeyAndWindow)
};
constexpr int64_t kWindowBatches = 3;

// Words in each batch, counted apart from the engine and the loop (the
// generated text is ASCII, so isspace is the engine's whitespace).
std::vector<int64_t> words_per_batch(const std::vector<Lines>& batches) {
  std::vector<int64_t> out;
  for (const auto& batch : batches) {
    int64_t n = 0;
    for (const auto& line : batch) {
      bool in_word = false;
      for (unsigned char c : line) {
        bool space = std::isspace(c) != 0;
        n += !space && !in_word;
        in_word = !space;
      }
    }
    out.push_back(n);
  }
  return out;
}

// What the sink must have seen: every word once (counts), the last batch's
// totals (running totals), or each batch's words once per window holding it.
int64_t expected_sum(Job job, const std::vector<int64_t>& words) {
  int64_t sum = 0, b = static_cast<int64_t>(words.size());
  for (int64_t i = 0; i < b; ++i)
    sum += words[static_cast<std::size_t>(i)] * (job == Job::window ? std::min(kWindowBatches, b - i) : 1);
  return sum;
}

// checkpoint_dir non-empty: a checkpoint after every batch.
Row run_engine(const std::vector<Lines>& batches, int64_t batch_ms, int partitions, int threads,
               Job job, const std::string& checkpoint_dir, int64_t expected) {
  trib::StreamingOptions opts;
  opts.retained_batches = SIZE_MAX;  // the report reads every batch
  opts.partitions = partitions;
  opts.worker_threads = threads;
  trib::StreamingContext ssc(std::chrono::milliseconds(batch_ms), opts);
  if (!checkpoint_dir.empty()) ssc.checkpoint(checkpoint_dir);
  auto queue = std::make_shared<trib::BatchQueue<std::string>>();
  for (const auto& b : batches) queue->push(b);
  // (batch time, sum of the counts it output); only the first batches.size()
  // count, as a window goes on after the input ends.
  auto sums = std::make_shared<std::vector<std::pair<int64_t, int64_t>>>();
  auto sums_mutex = std::make_shared<std::mutex>();
  // The lines come straight from the queue's partitions, which stay pinned
  // while their words are in use, so the words can be views into them; the
  // per-batch counts own their keys again (state keeps them).
  auto counts = ssc.queueStream(queue)
                    .flatMap([](const std::string& line) {
                      return trib::split_words(trib::Text(line.data(), line.size()));
                    })
                    .map([](trib::Text w) { return TextCount(w, 1); })
                    .reduceByKey(std::plus<int64_t>())
                    .map([](const TextCount& kv) { return Count(std::string(kv.first), kv.second); });
  if (job == Job::running_totals)
    counts = counts.updateStateByKey([](const std::vector<int64_t>& fresh, const std::optional<int64_t>& s) {
      return std::optional<int64_t>(s.value_or(0) + std::accumulate(fresh.begin(), fresh.end(), int64_t{0}));
    });
  if (job == Job::window) {
    auto batch = std::chrono::milliseconds(batch_ms);
    counts = counts.reduceByKeyAndWindow(std::plus<int64_t>(), std::minus<int64_t>(), kWindowBatches * batch,
                                         batch, 0, [](const Count& c) { return c.second > 0; });
  }
  counts.foreachRDD([sums, sums_mutex](const std::vector<Count>& rows, int64_t time) {
    int64_t sum = 0;
    for (auto& kv : rows) sum += kv.second;
    std::lock_guard<std::mutex> lock(*sums_mutex);
    sums->emplace_back(time, sum);
  });
  ssc.start();
  if (!ssc.awaitBatches(batches.size(), std::chrono::minutes(10)))
    throw std::runtime_error("the engine did not finish the batches");
  ssc.stop(false);
  std::sort(sums->begin(), sums->end());
  if (sums->size() < batches.size())
    throw std::runtime_error("the sink saw " + std::to_string(sums->size()) + " batches of " +
                             std::to_string(batches.size()));
  int64_t seen = 0;
  for (std::size_t i = 0; i < batches.size(); ++i)
    seen = job == Job::running_totals ? (*sums)[i].second : seen + (*sums)[i].second;
  if (seen != expected)
    throw std::runtime_error("engine's sink summed " + std::to_string(seen) + " word counts, expected " +
                             std::to_string(expected));

  double records = 0, busy_ms = 0, max_processing = 0;
  std::vector<double> latency;
  for (const auto& b : ssc.completedBatches()) {
    if (b.input_records == 0) continue;
    records += static_cast<double>(b.input_records);
    busy_ms += b.processing_time_ms;
    max_processing = std::max(max_processing, b.processing_time_ms);
    latency.push_back(b.total_delay_ms);
  }
  Row row;
  row.name = std::to_string(batch_ms) + " ms batches, " + std::to_string(partitions) + " partitions" +
             (job == Job::running_totals ? ", running totals" : "") +
             (job == Job::window ? ", window of " + std::to_string(kWindowBatches) + " batches sliding by 1" : "") +
             (checkpoint_dir.empty() ? "" : ", checkpoint each batch");
  row.records_per_s = records / (busy_ms / 1000.0);
  row.per_core = row.records_per_s / threads;
  row.p50_ms = percentile(latency, 0.5);
  row.p99_ms = percentile(latency, 0.99);
  row.keeps_up = max_processing <= static_cast<double>(batch_ms);
  return row;
}

void print_table(const std::vector<Row>& rows, double baseline, bool markdown) {
  if (markdown) {
    std::printf("| configuration | records/s | records/s per core | vs loop | latency p50 | latency p99 | keeps up |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---|\n");
  } else {
    std::printf("%-48s %12s %14s %8s %10s %10s %9s\n", "configuration", "records/s", "per core",
                "vs loop", "p50 ms", "p99 ms", "keeps up");
  }
  for (const auto& r : rows) {
    bool base = r.p50_ms == 0 && r.p99_ms == 0;
    char p50[32] = "-", p99[32] = "-";
    if (!base) {
      std::snprintf(p50, sizeof(p50), "%.1f", r.p50_ms);
      std::snprintf(p99, sizeof(p99), "%.1f", r.p99_ms);
    }
    const char* up = base ? "-" : r.keeps_up ? "yes" : "no";
    if (markdown)
      std::printf("| %s | %.0f | %.0f | %.2fx | %s ms | %s ms | %s |\n", r.name.c_str(), r.records_per_s,
                  r.per_core, r.records_per_s / baseline, p50, p99, up);
    else
      std::printf("%-48s %12.0f %14.0f %7.2fx %10s %10s %9s\n", r.name.c_str(), r.records_per_s,
                  r.per_core, r.records_per_s / baseline, p50, p99, up);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string batch_list = "100,500,1000", partition_list = "1,2,4";
  int64_t lines_per_batch = 100000, batches = 6, threads = 0;
  bool markdown = false, with_checkpoints = false;
  trib::cli::AppMain app("wordcount_bench",
                         "Word count throughput and latency: the engine vs a plain single-threaded loop.",
                         trib::cli::AppMain::kNoReceivers, "warn");
  app.flags()
      .add("batch-ms", &batch_list, "batch intervals to try, comma-separated")
      .add("partitions", &partition_list, "partition counts to try, comma-separated")
      .add("lines-per-batch", &lines_per_batch, "generated lines in each batch")
      .add("batches", &batches, "batches per configuration")
      .add("threads", &threads, "actor scheduler threads (0: one per core)");
  app.add_log_level()
      .add_switch("checkpoints", &with_checkpoints, "also measure running totals and a sliding window, each with and without a checkpoint per batch")
      .add_switch("markdown", &markdown, "print a Markdown table");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  std::vector<int64_t> intervals, partitions;
  try {
    intervals = parse_list(batch_list);
    partitions = parse_list(partition_list);
  } catch (const std::exception&) {
    return app.usage_error("--batch-ms and --partitions take comma-separated numbers");
  }
  if (lines_per_batch <= 0 || batches <= 0 || threads < 0 || intervals.empty() || partitions.empty())
    return app.usage_error("--lines-per-batch and --batches must be positive, --threads >= 0");
  int cores = threads > 0 ? static_cast<int>(threads)
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  trib::GeneratorOptions gen;
  std::vector<Lines> data(static_cast<std::size_t>(batches));
  for (int64_t b = 0, i = 0; b < batches; ++b)
    for (int64_t n = 0; n < lines_per_batch; ++n) data[b].push_back(trib::generated_line(gen, i++));

  int64_t words = 0;
  std::vector<Row> rows{plain_loop(data, words)};
  std::vector<int64_t> batch_words = words_per_batch(data);
  if (expected_sum(Job::counts, batch_words) != words) {
    spdlog::error("the loop counted {} words, a plain count {}", words, expected_sum(Job::counts, batch_words));
    return 1;
  }
  try {
    for (auto ms : intervals)
      for (auto p : partitions)
        rows.push_back(run_engine(data, ms, static_cast<int>(p), cores, Job::counts, "",
                                  expected_sum(Job::counts, batch_words)));
    if (with_checkpoints) {
      std::string dir = "/tmp/tributary-bench-ckpt-" + std::to_string(::getpid());
      int64_t ms = intervals.back();
      int p = static_cast<int>(partitions.back());
      // The stateful jobs, each without, then with a checkpoint per batch.
      for (Job job : {Job::running_totals, Job::window}) {
        int64_t expected = expected_sum(job, batch_words);
        rows.push_back(run_engine(data, ms, p, cores, job, "", expected));
        rows.push_back(run_engine(data, ms, p, cores, job, dir, expected));
        trib::remove_tree(dir);
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  std::printf("%lld batches x %lld lines (%.1f words per line), %d scheduler threads\n\n",
              static_cast<long long>(batches), static_cast<long long>(lines_per_batch),
              static_cast<double>(words) / static_cast<double>(batches * lines_per_batch), cores);
  print_table(rows, rows[0].records_per_s, markdown);
  return 0;
}
