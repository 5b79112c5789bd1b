// The generator as a replayable "direct" source (like Spark's direct Kafka
// stream): there is no receiver; when an interval closes, the batch takes the
// next lines_per_batch lines of the deterministic generator. Its position is
// the next line number, so a job restarted from a checkpoint reads exactly
// the batches it had not completed, with no write-ahead log.
#pragma once

#include <string>

#include "dstream/core/graph.hpp"
#include "io/generator_receiver.hpp"

namespace trib {

class DirectGeneratorSource : public SourceNode {
 public:
  DirectGeneratorSource(GeneratorOptions opts, int partitions);

  bool poll(int64_t t, Dataset& out) override;
  std::string position() const override { return std::to_string(next_line_); }
  void seek(const std::string& position) override;

 private:
  GeneratorOptions opts_;
  int partitions_;
  int64_t next_line_ = 0;
};

}  // namespace trib
