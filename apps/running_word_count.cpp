// Running word count since the job started, with updateStateByKey.
//
//   ./running_word_count --duration 5
//   ./running_word_count --source socket://localhost:9999
#include <algorithm>

#include "apps/app_main.hpp"
#include "apps/cli.hpp"
#include "dstream/streaming_context.hpp"
#include "io/generator_receiver.hpp"
#include "dstream/core/text.hpp"

int main(int argc, char** argv) {
  std::string source = "generator";
  int64_t batch_ms = 1000, duration = 0, print_n = 10;
  double rate = 2000;
  trib::cli::AppMain app("running_word_count", "Word counts since the start of the job.",
                         trib::cli::AppMain::kUi);
  app.flags()
      .add("source", &source, trib::cli::kTextSourceHelp)
      .add("batch-ms", &batch_ms, "batch interval in milliseconds")
      .add("rate", &rate, "generator lines per second")
      .add("print", &print_n, "records printed per batch")
      .add("duration", &duration, "seconds to run (0: until Ctrl-C)");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  if (batch_ms <= 0 || duration < 0 || print_n < 0)
    return app.usage_error("--batch-ms must be positive, --duration and --print >= 0");
  trib::StreamingOptions options;
  if (int code = app.apply(options); code >= 0) return code;
  trib::StreamingContext ssc(std::chrono::milliseconds(batch_ms), options);
  trib::GeneratorOptions gen;
  gen.lines_per_second = rate;
  std::string error;
  auto lines = trib::cli::open_text_source(ssc, source, gen, error);
  if (!lines) return app.usage_error(error);
  using Count = std::pair<std::string, int64_t>;
  lines->flatMap(trib::split_words)
      .map([](const std::string& w) { return Count(w, 1); })
      .updateStateByKey([](const std::vector<int64_t>& fresh, const std::optional<int64_t>& total) {
        int64_t sum = total.value_or(0);
        for (auto n : fresh) sum += n;
        return std::optional<int64_t>(sum);
      })
      .transform([](const std::vector<Count>& counts, int64_t) {
        auto sorted = counts;  // most frequent first, for a readable print()
        std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) {
          return a.second != b.second ? a.second > b.second : a.first < b.first;
        });
        return sorted;
      })
      .print(static_cast<std::size_t>(print_n));
  return app.run(ssc, duration);
}
