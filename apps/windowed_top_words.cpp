// The k most frequent words of the last 30 seconds, updated every 5 seconds.
//
//   ./windowed_top_words --duration 12
#include <algorithm>

#include "apps/app_main.hpp"
#include "dstream/streaming_context.hpp"
#include "io/generator_receiver.hpp"
#include "dstream/core/text.hpp"

int main(int argc, char** argv) {
  int64_t k = 5, window_s = 30, slide_s = 5, batch_ms = 1000, duration = 0;
  double rate = 5000;
  trib::cli::AppMain app("windowed_top_words", "Top-k words over a sliding window.", trib::cli::AppMain::kUi);
  app.flags()
      .add("k", &k, "words to show")
      .add("window", &window_s, "window length in seconds")
      .add("slide", &slide_s, "seconds between results")
      .add("batch-ms", &batch_ms, "batch interval in milliseconds")
      .add("rate", &rate, "generator lines per second")
      .add("duration", &duration, "seconds to run (0: until Ctrl-C)");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  if (k <= 0 || batch_ms <= 0 || duration < 0)
    return app.usage_error("--k and --batch-ms must be positive, --duration >= 0");
  trib::StreamingOptions options;
  if (int code = app.apply(options); code >= 0) return code;
  trib::StreamingContext ssc(std::chrono::milliseconds(batch_ms), options);
  trib::GeneratorOptions gen;
  gen.lines_per_second = rate;
  using Count = std::pair<std::string, int64_t>;
  try {
    ssc.generatorStream(gen)
        .flatMap(trib::split_words)
        .map([](const std::string& w) { return Count(w, 1); })
        // Incremental: add the newest batch, subtract the one leaving the window.
        .reduceByKeyAndWindow(std::plus<int64_t>(), std::minus<int64_t>(),
                              std::chrono::seconds(window_s), std::chrono::seconds(slide_s), 0,
                              [](const Count& c) { return c.second > 0; })
        .transform([k](const std::vector<Count>& counts, int64_t) {
          std::vector<Count> top = counts;
          auto n = std::min<std::size_t>(static_cast<std::size_t>(k), top.size());
          std::partial_sort(top.begin(), top.begin() + n, top.end(), [](auto& a, auto& b) {
            return a.second != b.second ? a.second > b.second : a.first < b.first;
          });
          top.resize(n);
          return top;
        })
        .print(static_cast<std::size_t>(k));
  } catch (const std::invalid_argument& e) {
    return app.usage_error(e.what());
  }
  return app.run(ssc, duration);
}
