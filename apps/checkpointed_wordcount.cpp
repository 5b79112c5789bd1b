// Word count that survives crashes: checkpoints to --checkpoint DIR and
// resumes from it when restarted, writing each batch's result once to
// --output PREFIX (saveAsTextFiles). Reads the replayable direct generator
// (--lines-per-batch lines per batch), so a restarted job re-reads exactly
// the batches it had not completed, or a socket, whose accepted lines are
// kept in a write-ahead log until a checkpoint covers them.
//
//   ./checkpointed_wordcount --checkpoint /tmp/ckpt --output /tmp/out/counts --mode running
//   (kill it with kill -9 at any moment, start the same command again)
//
// Modes: running      counts since the start (updateStateByKey)
//        windowed     counts over the last 4 batches, every 2 (reduceByKeyAndWindow)
//        incremental  the same with an inverse function (state in executors)
#include <algorithm>

#include <spdlog/spdlog.h>

#include "apps/app_main.hpp"
#include "apps/cli.hpp"
#include "dstream/streaming_context.hpp"
#include "io/generator_receiver.hpp"
#include "dstream/core/text.hpp"

namespace {

using Count = std::pair<std::string, int64_t>;

std::vector<Count> sorted_by_word(const std::vector<Count>& counts, int64_t) {
  auto sorted = counts;
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

// Declares the pipeline; getOrCreate() runs it on every start.
std::unique_ptr<trib::StreamingContext> make_job(const std::string& mode, const std::string& source,
                                                 int64_t batch_ms, const trib::StreamingOptions& options,
                                                 const trib::GeneratorOptions& gen,
                                                 const std::string& checkpoint_dir, int64_t checkpoint_every,
                                                 const std::string& output) {
  auto ssc = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(batch_ms), options);
  ssc->checkpoint(checkpoint_dir, std::chrono::milliseconds(checkpoint_every * batch_ms));
  std::string error;
  auto lines = trib::cli::open_text_source(*ssc, source, gen, error);
  if (!lines) throw std::invalid_argument(error);
  auto pairs = lines->flatMap(trib::split_words).map([](const std::string& w) { return Count(w, 1); });
  auto batch = std::chrono::milliseconds(batch_ms);
  trib::DStream<Count> counts = [&] {
    if (mode == "running")
      return pairs.updateStateByKey([](const std::vector<int64_t>& fresh, const std::optional<int64_t>& total) {
        int64_t sum = total.value_or(0);
        for (auto n : fresh) sum += n;
        return std::optional<int64_t>(sum);
      });
    if (mode == "windowed") return pairs.reduceByKeyAndWindow(std::plus<int64_t>(), 4 * batch, 2 * batch);
    return pairs.reduceByKeyAndWindow(std::plus<int64_t>(), std::minus<int64_t>(), 4 * batch, 2 * batch,
                                      0, [](const Count& c) { return c.second > 0; });
  }();
  counts.transform(sorted_by_word).saveAsTextFiles(output);
  return ssc;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "running", source = "generator", checkpoint_dir, output;
  int64_t batch_ms = 100, lines_per_batch = 500, total_lines = -1, stop_after = 0, duration = 0,
          checkpoint_every = 1, seed = 1;
  using trib::cli::AppMain;
  AppMain app("checkpointed_wordcount",
              "Word count with checkpoints and exactly-once file output; restart it "
              "after a crash and it resumes.",
              AppMain::kCluster | AppMain::kRecovery | AppMain::kUi);
  app.flags()
      .add("checkpoint", &checkpoint_dir, "checkpoint directory (required)")
      .add("checkpoint-every", &checkpoint_every, "write a checkpoint every N batches")
      .add("output", &output, "output prefix: one directory per batch (required)")
      .add("mode", &mode, "running, windowed or incremental")
      .add("source", &source, "'generator' (replayable) or socket://HOST:PORT (write-ahead logged)")
      .add("batch-ms", &batch_ms, "batch interval in milliseconds")
      .add("lines-per-batch", &lines_per_batch, "generator lines per batch")
      .add("seed", &seed, "generator seed: the same seed gives the same lines")
      .add("total-lines", &total_lines, "stop reading after this many lines (-1: never)")
      .add("stop-after", &stop_after, "stop gracefully after this many batches of the job (0: never)")
      .add("duration", &duration, "seconds to run (0: until Ctrl-C or --stop-after)");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  auto usage_error = [&](const std::string& what) { return app.usage_error(what); };
  if (checkpoint_dir.empty() || output.empty()) return usage_error("--checkpoint and --output are required");
  if (mode != "running" && mode != "windowed" && mode != "incremental")
    return usage_error("--mode must be running, windowed or incremental, got '" + mode + "'");
  if (batch_ms <= 0 || lines_per_batch <= 0 || checkpoint_every <= 0 || stop_after < 0 || duration < 0)
    return usage_error("--batch-ms, --lines-per-batch and --checkpoint-every must be positive, "
                       "--stop-after and --duration >= 0");

  trib::StreamingOptions options;
  if (int code = app.apply(options); code >= 0) return code;
  trib::GeneratorOptions gen;
  gen.lines_per_batch = lines_per_batch;
  gen.total_lines = total_lines;
  gen.seed = static_cast<uint64_t>(seed);
  auto factory = [&] {
    return make_job(mode, source, batch_ms, options, gen, checkpoint_dir, checkpoint_every, output);
  };
  return app.run_declared(factory, checkpoint_dir, duration, stop_after);
}
