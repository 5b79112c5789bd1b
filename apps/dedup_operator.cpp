// A custom actor operator, end to end: per-partition de-duplication of
// events by id, with the "seen" set kept in the operator actor's state
// across batches (and snapshotted as Cereal bytes for checkpoints).
//
//   ./dedup_operator --duration 5
//   ./dedup_operator --lines-per-batch 400 --checkpoint /tmp/dd --output /tmp/dd-out/new --listen 7777
//   ./dedup_operator --lines-per-batch 400 --checkpoint /tmp/dd --output /tmp/dd-out/new --join 127.0.0.1:7777
//
// The generator below emits event ids that repeat (at-least-once delivery,
// say); the actor passes each id on only the first time it sees it.
#include <algorithm>
#include <set>

#include <cereal/types/set.hpp>
#include <spdlog/spdlog.h>

#include "dstream/actor_operator.hpp"
#include "apps/app_main.hpp"
#include "dstream/core/cereal_bytes.hpp"
#include "dstream/streaming_context.hpp"
#include "io/generator_receiver.hpp"

namespace {

struct DedupState {
  std::set<std::string> seen;
};

// The operator: follows the protocol in dstream/actor_operator.hpp.
caf::behavior dedup_actor(caf::stateful_actor<DedupState>* self, int partition) {
  spdlog::debug("dedup operator for partition {} started", partition);
  return {
      [=](trib::process_atom, int64_t, const std::vector<std::pair<std::string, std::string>>& in) {
        std::vector<std::string> fresh;
        for (const auto& [id, payload] : in)
          if (self->state.seen.insert(id).second) fresh.push_back(id + " " + payload);
        return fresh;
      },
      [=](trib::snapshot_atom) { return trib::to_cereal_bytes(self->state.seen); },
      [=](trib::restore_atom, const std::string& bytes) { trib::from_cereal_bytes(bytes, self->state.seen); },
  };
}

// Declares the pipeline (getOrCreate runs it again on every start).
std::unique_ptr<trib::StreamingContext> make_job(int64_t batch_ms, const trib::StreamingOptions& options,
                                                 const trib::GeneratorOptions& gen,
                                                 const std::string& checkpoint_dir, const std::string& output) {
  auto ssc = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(batch_ms), options);
  if (!checkpoint_dir.empty()) ssc->checkpoint(checkpoint_dir);
  auto events = ssc->generatorStream(gen).map([](const std::string& line) {
    auto space = line.find(' ');
    return std::pair<std::string, std::string>(line.substr(0, space), line.substr(space + 1));
  });
  auto fresh = events.actorOperator<std::string>(
      [](caf::actor_system& sys, int partition) { return sys.spawn(dedup_actor, partition); });
  if (!output.empty()) {
    fresh.transform([](const std::vector<std::string>& ids, int64_t) {
          auto sorted = ids;
          std::sort(sorted.begin(), sorted.end());
          return sorted;
        })
        .saveAsTextFiles(output);
  } else {
    fresh.count().map([](int64_t n) { return "new ids this batch: " + std::to_string(n); }).print();
  }
  return ssc;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch_ms = 500, duration = 5, partitions = 2, lines_per_batch = 0, total_lines = -1, stop_after = 0;
  double rate = 2000;
  std::string checkpoint_dir, output;
  using trib::cli::AppMain;
  AppMain app("dedup_operator", "Drops repeated event ids with a custom per-partition actor operator.",
              AppMain::kCluster | AppMain::kRecovery | AppMain::kUi);
  app.flags()
      .add("batch-ms", &batch_ms, "batch interval in milliseconds")
      .add("partitions", &partitions, "operator actors (partitions)")
      .add("duration", &duration, "seconds to run (0: until Ctrl-C or --stop-after)")
      .add("rate", &rate, "generated events per second")
      .add("lines-per-batch", &lines_per_batch, "exactly this many events per batch, replayable (0: use --rate)")
      .add("total-lines", &total_lines, "stop generating after this many events (-1: never)")
      .add("stop-after", &stop_after, "stop gracefully after this many batches (0: never)")
      .add("checkpoint", &checkpoint_dir, "checkpoint directory: the operators' state survives a restart")
      .add("output", &output, "write each batch's new events, sorted, under this prefix (default: print counts)");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  if (batch_ms <= 0 || partitions <= 0 || duration < 0 || lines_per_batch < 0 || stop_after < 0)
    return app.usage_error("--batch-ms and --partitions must be positive, --duration, --lines-per-batch and "
                       "--stop-after >= 0");

  trib::StreamingOptions options;
  options.partitions = static_cast<int>(partitions);
  if (int code = app.apply(options); code >= 0) return code;
  trib::GeneratorOptions gen;
  gen.lines_per_second = rate;
  gen.lines_per_batch = lines_per_batch;
  gen.total_lines = total_lines;
  gen.words_per_line = 2;
  gen.vocabulary = 500;  // few distinct ids: many repeats
  auto factory = [&] { return make_job(batch_ms, options, gen, checkpoint_dir, output); };
  return app.run_declared(factory, checkpoint_dir, duration, stop_after);
}
