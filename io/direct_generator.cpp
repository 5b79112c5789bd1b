#include "io/direct_generator.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "dstream/core/text_block.hpp"

namespace trib {

DirectGeneratorSource::DirectGeneratorSource(GeneratorOptions opts, int partitions)
    : opts_(opts), partitions_(partitions) {
  name = "generatorStream(direct)";
  if (opts_.lines_per_batch <= 0)
    throw std::invalid_argument("direct generator needs lines_per_batch > 0");
}

bool DirectGeneratorSource::poll(int64_t, Dataset& out) {
  int64_t end = next_line_ + opts_.lines_per_batch;
  if (opts_.total_lines >= 0) end = std::min(end, opts_.total_lines);
  std::vector<std::string> lines;
  for (int64_t i = next_line_; i < end; ++i) lines.push_back(generated_line(opts_, i));
  next_line_ = std::max(next_line_, end);
  out = split_text_into_partitions(std::move(lines), partitions_);
  return true;
}

void DirectGeneratorSource::seek(const std::string& position) {
  try {
    next_line_ = std::stoll(position);
    // TEST HOOK, a planted bug: the fault-injection runner's own test
    // (tests/test_chaos.cpp) must see it report lost batches. Never set it.
    if (std::getenv("TRIB_BUG_SKIP_REPLAYED_BATCH")) next_line_ += opts_.lines_per_batch;
  } catch (const std::exception&) {
    throw std::runtime_error("direct generator: bad position '" + position + "' in checkpoint");
  }
}

}  // namespace trib
