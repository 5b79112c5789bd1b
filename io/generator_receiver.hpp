// The built-in generator source: deterministic lines of words at a set rate,
// so the main app and the benchmark need no server. Line i depends only on
// the options and i, so tests can recompute any line as an oracle.
#pragma once

#include <cstdint>
#include <string>

#include "dstream/core/receiver.hpp"

namespace trib {

struct GeneratorOptions {
  double lines_per_second = 10000;  // <= 0: as fast as possible
  int words_per_line = 8;
  int vocabulary = 1000;            // distinct words; frequencies are skewed
  uint64_t seed = 1;
  int64_t total_lines = -1;         // stop producing after this many; -1: never
  // > 0: "direct" mode: no receiver; batch k reads exactly the next
  // lines_per_batch lines, so batches are deterministic and replayable
  // after a restart (io/direct_generator.hpp). lines_per_second is unused.
  int64_t lines_per_batch = 0;
};

// Line number `index` of the generator with these options.
std::string generated_line(const GeneratorOptions& opts, int64_t index);

class GeneratorReceiver : public Receiver {
 public:
  explicit GeneratorReceiver(GeneratorOptions opts) : opts_(opts) {}
  std::string describe() const override;
  void run(ReceiverContext& ctx) override;

 private:
  GeneratorOptions opts_;
  int64_t produced_ = 0;  // survives a restart of run()
};

}  // namespace trib
