// A custom actor operator, end to end: per-partition de-duplication of
// events by id, with the "seen" set kept in the operator actor's state
// across batches (and snapshotted as Cereal bytes for checkpoints).
//
//   ./dedup_operator --duration 5
//
// The generator below emits event ids that repeat (at-least-once delivery,
// say); the actor passes each id on only the first time it sees it.
#include <set>
#include <sstream>

#include <cereal/archives/binary.hpp>
#include <cereal/types/set.hpp>
#include <spdlog/spdlog.h>

#include "actors/actor_operator.hpp"
#include "apps/cli.hpp"
#include "dstream/streaming_context.hpp"

namespace {

struct DedupState {
  std::set<std::string> seen;
};

// The operator: follows the protocol in actors/actor_operator.hpp.
caf::behavior dedup_actor(caf::stateful_actor<DedupState>* self, int partition) {
  spdlog::debug("dedup operator for partition {} started", partition);
  return {
      [=](trib::process_atom, int64_t, const std::vector<std::pair<std::string, std::string>>& in) {
        std::vector<std::string> fresh;
        for (const auto& [id, payload] : in)
          if (self->state.seen.insert(id).second) fresh.push_back(id + " " + payload);
        return fresh;
      },
      [=](trib::snapshot_atom) {
        std::ostringstream out;
        {
          cereal::BinaryOutputArchive archive(out);
          archive(self->state.seen);
        }
        return out.str();
      },
      [=](trib::restore_atom, const std::string& bytes) {
        std::istringstream in(bytes);
        cereal::BinaryInputArchive archive(in);
        archive(self->state.seen);
      },
  };
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch_ms = 500, duration = 5, partitions = 2;
  double rate = 2000;
  std::string log_level = "info";
  trib::cli::Flags flags("dedup_operator",
                         "Drops repeated event ids with a custom per-partition actor operator.");
  flags.add("batch-ms", &batch_ms, "batch interval in milliseconds")
      .add("partitions", &partitions, "operator actors (partitions)")
      .add("duration", &duration, "seconds to run")
      .add("rate", &rate, "generated events per second")
      .add("log-level", &log_level, "trace, debug, info, warn, error or off");
  if (int code = trib::cli::parse_or_exit_code(flags, argc, argv); code >= 0) return code;
  if (!trib::cli::init_logging(log_level))
    return trib::cli::usage_error(flags, "unknown --log-level '" + log_level + "'");
  if (batch_ms <= 0 || partitions <= 0 || duration <= 0)
    return trib::cli::usage_error(flags, "--batch-ms, --partitions and --duration must be positive");

  trib::StreamingOptions options;
  options.partitions = static_cast<int>(partitions);
  trib::StreamingContext ssc(std::chrono::milliseconds(batch_ms), options);
  trib::GeneratorOptions gen;
  gen.lines_per_second = rate;
  gen.words_per_line = 2;
  gen.vocabulary = 500;  // few distinct ids: many repeats
  auto events = ssc.generatorStream(gen).map([](const std::string& line) {
    auto space = line.find(' ');
    return std::pair<std::string, std::string>(line.substr(0, space), line.substr(space + 1));
  });
  auto fresh = events.actorOperator<std::string>(
      [](caf::actor_system& sys, int partition) { return sys.spawn(dedup_actor, partition); });
  fresh.count().map([](int64_t n) { return "new ids this batch: " + std::to_string(n); }).print();
  return trib::cli::run_job(ssc, duration);
}
