// The Redis job of tributary-chaos's campaigns: the README's Redis pipeline
// (a Redis stream in, per-batch word counts out to Redis hashes
// counts:<batch ms> on the same server) plus the running counts since the
// start written to --output (saveAsTextFiles), which the runner checks
// against the lines it added to the stream. Positions in the stream are
// kept in the checkpoints (a direct source: no write-ahead log).
//
//   redis_wordcount --redis-port 6379 --checkpoint /tmp/rc --output /tmp/rc-out/counts --stop-after 200
//   tributary-chaos --workers 2 --faults kill,stop,redis-restart -- build/redis_wordcount
//     --redis-port {redis_port} --checkpoint {checkpoint} --output {output}/counts
//     --batch-ms {batch_ms} --stop-after {batches} --events {events} {role}
#include <algorithm>

#include <spdlog/spdlog.h>

#include "apps/app_main.hpp"
#include "dstream/core/text.hpp"
#include "dstream/streaming_context.hpp"
#include "io/redis.hpp"

namespace {

using Count = std::pair<std::string, int64_t>;

std::vector<Count> sorted_by_word(const std::vector<Count>& counts, int64_t) {
  auto sorted = counts;
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

struct Settings {
  std::string host = "127.0.0.1", key = "events", hash_prefix = "counts", checkpoint_dir, output;
  int64_t port = 6379, batch_ms = 100, max_per_batch = 100000;
};

// Declares the pipeline; getOrCreate() runs it on every start.
std::unique_ptr<trib::StreamingContext> make_job(const Settings& s, const trib::StreamingOptions& options) {
  auto ssc = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(s.batch_ms), options);
  ssc->checkpoint(s.checkpoint_dir, std::chrono::milliseconds(s.batch_ms));
  trib::RedisStreamOptions ro;
  ro.max_records_per_batch = s.max_per_batch;
  auto port = static_cast<uint16_t>(s.port);
  auto pairs = trib::redisStream(*ssc, s.host, port, s.key, ro)
                   .flatMap(trib::split_words)
                   .map([](const std::string& w) { return Count(w, 1); });
  pairs.reduceByKey(std::plus<int64_t>()).foreachRDD(trib::RedisHashSink(s.host, port, s.hash_prefix));
  pairs
      .updateStateByKey([](const std::vector<int64_t>& fresh, const std::optional<int64_t>& total) {
        int64_t sum = total.value_or(0);
        for (auto n : fresh) sum += n;
        return std::optional<int64_t>(sum);
      })
      .transform(sorted_by_word)
      .saveAsTextFiles(s.output);
  return ssc;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  int64_t stop_after = 0, duration = 0;
  using trib::cli::AppMain;
  AppMain app("redis_wordcount",
              "Word count over a Redis stream (field 'line'): per-batch counts to Redis hashes "
              "PREFIX:<batch ms>, running counts to --output; resumes from its checkpoint.",
              AppMain::kCluster | AppMain::kRecovery);
  app.flags()
      .add("redis-host", &s.host, "the Redis server")
      .add("redis-port", &s.port, "its port")
      .add("key", &s.key, "the stream read (through consumer group 'tributary')")
      .add("hash-prefix", &s.hash_prefix, "per-batch counts go to the hash PREFIX:<batch ms>")
      .add("max-records-per-batch", &s.max_per_batch, "at most this many stream entries per batch")
      .add("checkpoint", &s.checkpoint_dir, "checkpoint directory (required)")
      .add("output", &s.output, "output prefix for the running counts: one directory per batch (required)")
      .add("batch-ms", &s.batch_ms, "batch interval in milliseconds")
      .add("stop-after", &stop_after, "stop gracefully after this many batches of the job (0: never)")
      .add("duration", &duration, "seconds to run (0: until Ctrl-C or --stop-after)");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  auto usage_error = [&](const std::string& what) { return app.usage_error(what); };
  if (s.checkpoint_dir.empty() || s.output.empty()) return usage_error("--checkpoint and --output are required");
  if (s.port <= 0 || s.port > 65535) return usage_error("--redis-port must be 1..65535");
  if (s.batch_ms <= 0 || s.max_per_batch <= 0 || stop_after < 0 || duration < 0)
    return usage_error("--batch-ms and --max-records-per-batch must be positive, --stop-after and --duration >= 0");
  trib::StreamingOptions options;
  if (int code = app.apply(options); code >= 0) return code;
  return app.run_declared([&] { return make_job(s, options); }, s.checkpoint_dir, duration, stop_after);
}
