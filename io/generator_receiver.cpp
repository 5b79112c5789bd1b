#include "io/generator_receiver.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include "dstream/core/hashing.hpp"

namespace trib {
namespace {

const char* const kWords[] = {
    "the",    "stream", "batch",  "actor",   "river",  "spark",  "flow",
    "data",   "window", "state",  "record",  "node",   "queue",  "time",
    "delta",  "merge",  "key",    "value",   "count",  "word",   "line",
    "sink",   "source", "task",   "shard",   "log",    "ring",   "event",
    "wave",   "tide",   "basin",  "creek",   "lake",   "delta2", "rapid",
    "bank",   "bridge", "ford",   "marsh",   "spring", "brook",  "channel",
    "estuary", "fjord", "gorge",  "harbor",  "inlet",  "jetty",  "kelp",
    "lagoon", "mouth",  "oxbow",  "pool",    "quay",   "reef",   "shoal",
    "strait", "torrent", "upland", "vale",   "weir",   "yard",   "zone",
    "current"};
constexpr int kBaseWords = sizeof(kWords) / sizeof(kWords[0]);

}  // namespace

std::string generated_line(const GeneratorOptions& opts, int64_t index) {
  std::string line;
  uint64_t h = splitmix64(opts.seed * 0x100000001b3ULL + static_cast<uint64_t>(index));
  for (int w = 0; w < opts.words_per_line; ++w) {
    h = splitmix64(h);
    // u^2 skews toward small ids: a few words are frequent, most are rare.
    double u = static_cast<double>(h >> 11) / static_cast<double>(1ULL << 53);
    int id = static_cast<int>(u * u * opts.vocabulary);
    if (w) line += ' ';
    line += kWords[id % kBaseWords];
    if (id >= kBaseWords) line += std::to_string(id / kBaseWords);
  }
  return line;
}

std::string GeneratorReceiver::describe() const { return "generator"; }

void GeneratorReceiver::run(ReceiverContext& ctx) {
  using clock = std::chrono::steady_clock;
  constexpr int64_t kChunk = 4096;
  const auto start = clock::now();
  const int64_t start_count = produced_;
  while (!ctx.stopping()) {
    int64_t target = opts_.total_lines >= 0 ? opts_.total_lines : INT64_MAX;
    if (opts_.lines_per_second > 0) {
      double elapsed = std::chrono::duration<double>(clock::now() - start).count();
      target = std::min<int64_t>(
          target, start_count + static_cast<int64_t>(elapsed * opts_.lines_per_second));
    }
    if (produced_ >= target) {
      ctx.wait_for(std::chrono::milliseconds(
          opts_.total_lines >= 0 && produced_ >= opts_.total_lines ? 100 : 5));
      continue;
    }
    int64_t n = std::min(kChunk, target - produced_);
    std::vector<std::string> lines;
    lines.reserve(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) lines.push_back(generated_line(opts_, produced_ + i));
    produced_ += n;
    ctx.store(std::move(lines));
  }
}

}  // namespace trib
