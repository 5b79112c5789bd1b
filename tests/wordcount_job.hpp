// checkpointed_wordcount as a test subject: what it writes, and what it
// must write, from a plain count of the generator's lines. Shared by the
// crash tests (test_recovery) and the multi-process tests (test_cluster).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "io/generator_receiver.hpp"
#include "oracle.hpp"
#include "process.hpp"

namespace testing {

struct WordcountJob {
  int batch_ms = 40;
  int lines_per_batch = 300;
  int total_lines = 6000;
  int batches = 26;  // --stop-after

  std::vector<std::string> args(const std::string& mode, const std::string& dir,
                                const std::string& log_level = "warn") const {
    return {"--mode", mode, "--checkpoint", dir + "/ckpt", "--output", dir + "/out",
            "--batch-ms", std::to_string(batch_ms), "--lines-per-batch", std::to_string(lines_per_batch),
            "--total-lines", std::to_string(total_lines), "--stop-after", std::to_string(batches),
            "--log-level", log_level};
  }

  // Batches every mode is compared on (windows slide by 2 batches).
  std::size_t compared(const std::string& mode) const {
    return mode == "running" ? static_cast<std::size_t>(batches) : static_cast<std::size_t>(batches) / 2;
  }

  // The words of generator lines [first, last).
  std::map<std::string, int64_t> oracle_counts(int64_t first, int64_t last) const {
    trib::GeneratorOptions gen;
    std::vector<std::string> lines;
    for (int64_t i = std::max<int64_t>(first, 0); i < std::min<int64_t>(last, total_lines); ++i)
      lines.push_back(trib::generated_line(gen, i));
    return oracle::word_counts(lines);
  }

  static std::string as_text(const std::map<std::string, int64_t>& counts) {
    std::string text;
    for (auto& [w, n] : counts)
      if (n > 0) text += "(" + w + ", " + std::to_string(n) + ")\n";
    return text;
  }

  // What batch k must contain: running counts, or the last 4 batches' counts.
  std::string expected_batch(const std::string& mode, int64_t k) const {
    if (mode == "running") return as_text(oracle_counts(0, (k + 1) * lines_per_batch));
    return as_text(oracle_counts((k - 3) * lines_per_batch, (k + 1) * lines_per_batch));
  }

  // Every batch in `out` holds what a plain count says, and batch times
  // continue without gap or repeat.
  void check_against_oracle(const std::string& mode,
                            const std::vector<std::pair<int64_t, std::string>>& out) const {
    BOOST_REQUIRE(!out.empty());
    int64_t step = mode == "running" ? 1 : 2;
    int64_t first_k = mode == "running" ? 0 : 1;
    int64_t zero = out[0].first - (first_k + 1) * batch_ms;
    for (std::size_t i = 0; i < out.size(); ++i) {
      int64_t k = (out[i].first - zero) / batch_ms - 1;
      BOOST_TEST(k == first_k + static_cast<int64_t>(i) * step, "batch times continue without gap or repeat");
      if (k >= batches) break;
      BOOST_TEST(out[i].second == expected_batch(mode, k), mode << " batch " << k);
    }
  }
};

// Batch directories out-<t> under dir, oldest first: (t, all part files' text).
inline std::vector<std::pair<int64_t, std::string>> read_output(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::pair<int64_t, std::string>> batches;
  for (auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("out-", 0) != 0 || name.find('.') != std::string::npos) continue;
    std::vector<std::string> parts;
    for (auto& part : fs::directory_iterator(entry.path()))
      if (part.path().filename().string().rfind("part-", 0) == 0) parts.push_back(part.path());
    std::sort(parts.begin(), parts.end());
    std::string text;
    for (auto& p : parts) text += slurp(p);
    batches.emplace_back(std::stoll(name.substr(4)), text);
  }
  std::sort(batches.begin(), batches.end());
  return batches;
}

}  // namespace testing
