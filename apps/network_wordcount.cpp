// Network word count: Spark Streaming's classic first example, on Tributary.
//
// Counts the words of every batch of lines from a TCP server
// (--source socket://localhost:9999, fed e.g. by `nc -lk 9999`) or, by
// default, from the built-in generator, and prints the counts per batch.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <functional>

#include <spdlog/spdlog.h>

#include "apps/cli.hpp"
#include "dstream/streaming_context.hpp"
#include "dstream/text.hpp"

namespace {

std::atomic<bool> interrupted{false};

void on_signal(int) { interrupted = true; }

// "socket://host:port" -> host, port; false if malformed.
bool parse_socket_source(const std::string& source, std::string& host, uint16_t& port) {
  const std::string prefix = "socket://";
  if (source.rfind(prefix, 0) != 0) return false;
  auto rest = source.substr(prefix.size());
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = rest.substr(0, colon);
  try {
    std::size_t used = 0;
    int p = std::stoi(rest.substr(colon + 1), &used);
    if (used != rest.size() - colon - 1 || p < 1 || p > 65535) return false;
    port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string source = "generator";
  int64_t batch_ms = 1000, partitions = 0, duration = 0, print_n = 10;
  double rate = 10000;
  std::string log_level = "info";
  trib::cli::Flags flags("network_wordcount",
                         "Counts words per batch from a TCP text source or the built-in generator.");
  flags.add("source", &source, "'generator' or socket://HOST:PORT")
      .add("batch-ms", &batch_ms, "batch interval in milliseconds")
      .add("partitions", &partitions, "partitions per batch and shuffle (0: one per core)")
      .add("duration", &duration, "seconds to run, then stop gracefully (0: until Ctrl-C)")
      .add("rate", &rate, "generator lines per second")
      .add("print", &print_n, "records printed per batch")
      .add("log-level", &log_level, "trace, debug, info, warn, error or off");
  if (int code = trib::cli::parse_or_exit_code(flags, argc, argv); code >= 0) return code;

  auto usage_error = [&](const std::string& what) {
    std::fprintf(stderr, "error: %s\n\n%s", what.c_str(), flags.usage().c_str());
    return 2;
  };
  if (!trib::cli::init_logging(log_level)) return usage_error("unknown --log-level '" + log_level + "'");
  if (batch_ms <= 0) return usage_error("--batch-ms must be positive");
  if (partitions < 0) return usage_error("--partitions must be >= 0");
  if (duration < 0) return usage_error("--duration must be >= 0");
  if (print_n < 0) return usage_error("--print must be >= 0");
  std::string host;
  uint16_t port = 0;
  bool from_socket = source != "generator";
  if (from_socket && !parse_socket_source(source, host, port))
    return usage_error("--source must be 'generator' or socket://HOST:PORT, got '" + source + "'");

  trib::StreamingOptions options;
  options.partitions = static_cast<int>(partitions);
  trib::StreamingContext ssc(std::chrono::milliseconds(batch_ms), options);
  trib::GeneratorOptions gen;
  gen.lines_per_second = rate;
  auto lines = from_socket ? ssc.socketTextStream(host, port) : ssc.generatorStream(gen);
  auto counts = lines.flatMap(trib::split_words)
                    .map([](const std::string& w) { return std::pair<std::string, int64_t>(w, 1); })
                    .reduceByKey(std::plus<int64_t>());
  counts.print(static_cast<std::size_t>(print_n));

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  ssc.start();
  spdlog::info("reading from {}; {} ms batches", from_socket ? source : "the generator", batch_ms);
  auto started = std::chrono::steady_clock::now();
  try {
    while (!ssc.awaitTerminationOrTimeout(std::chrono::milliseconds(100))) {
      bool timed_out = duration > 0 &&
                       std::chrono::steady_clock::now() - started >= std::chrono::seconds(duration);
      if (interrupted || timed_out) {
        spdlog::info("{}; stopping gracefully", interrupted ? "interrupted" : "duration reached");
        ssc.stop(/*graceful=*/true);
        break;
      }
    }
    ssc.awaitTermination();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
