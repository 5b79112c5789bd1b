// Network word count: Spark Streaming's classic first example, on Tributary.
//
// Counts the words of every batch of lines from a TCP server
// (--source socket://localhost:9999, fed e.g. by `nc -lk 9999`) or, by
// default, from the built-in generator, and prints the counts per batch.
#include <cstdio>
#include <functional>

#include <spdlog/spdlog.h>

#include "apps/app_main.hpp"
#include "apps/cli.hpp"
#include "dstream/streaming_context.hpp"
#include "io/generator_receiver.hpp"
#include "dstream/core/text.hpp"

int main(int argc, char** argv) {
  std::string source = "generator";
  int64_t batch_ms = 1000, partitions = 0, duration = 0, print_n = 10, lines_per_batch = 0;
  double rate = 10000;
  trib::cli::AppMain app("network_wordcount",
                         "Counts words per batch from a TCP text source or the built-in generator.",
                         trib::cli::AppMain::kCluster | trib::cli::AppMain::kUi);
  app.flags()
      .add("source", &source, trib::cli::kTextSourceHelp)
      .add("batch-ms", &batch_ms, "batch interval in milliseconds")
      .add("partitions", &partitions, "partitions per batch and shuffle (0: one per core)")
      .add("duration", &duration, "seconds to run, then stop gracefully (0: until Ctrl-C)")
      .add("rate", &rate, "generator lines per second")
      .add("lines-per-batch", &lines_per_batch, "generator: exactly this many lines per batch, replayable (0: use --rate)")
      .add("print", &print_n, "records printed per batch");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  auto usage_error = [&](const std::string& what) { return app.usage_error(what); };
  if (batch_ms <= 0) return usage_error("--batch-ms must be positive");
  if (partitions < 0) return usage_error("--partitions must be >= 0");
  if (duration < 0) return usage_error("--duration must be >= 0");
  if (print_n < 0) return usage_error("--print must be >= 0");

  trib::StreamingOptions options;
  options.partitions = static_cast<int>(partitions);
  if (int code = app.apply(options); code >= 0) return code;
  trib::StreamingContext ssc(std::chrono::milliseconds(batch_ms), options);
  trib::GeneratorOptions gen;
  gen.lines_per_second = rate;
  gen.lines_per_batch = lines_per_batch;
  std::string error;
  auto lines = trib::cli::open_text_source(ssc, source, gen, error);
  if (!lines) return usage_error(error);
  // Words stay views into the received bytes (trib::Text) all the way to
  // the printed counts: no string is allocated per line or per word.
  lines->flatMap(trib::split_words)
      .map([](trib::Text w) { return std::pair<trib::Text, int64_t>(w, 1); })
      .reduceByKey(std::plus<int64_t>())
      .print(static_cast<std::size_t>(print_n));
  if (!app.joining()) spdlog::info("reading from {}; {} ms batches", source, batch_ms);
  return app.run(ssc, duration);
}
