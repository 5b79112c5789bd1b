// Window operations against a plain computation: for the batch with index k,
// a window of L batches sliding by S holds input batches k-L+1 .. k and
// exists when (k + 1) is a multiple of S. Includes the stream's start (short
// windows), its end (empty batches draining the window) and the incremental
// form giving the same results as the plain one.
#define BOOST_TEST_MODULE windows
#include <boost/test/unit_test.hpp>

#include <random>

#include "job_helpers.hpp"
#include "oracle.hpp"

namespace {

using KV = std::pair<int, int64_t>;

struct Shape {
  int length, slide;  // in batches
};

std::vector<int> window_input(const std::vector<std::vector<int>>& in, int64_t k, int length) {
  std::vector<int> out;
  for (int64_t b = std::max<int64_t>(0, k - length + 1); b <= k; ++b)
    if (b < static_cast<int64_t>(in.size())) out.insert(out.end(), in[b].begin(), in[b].end());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(windows_match_a_plain_computation) {
  const std::vector<Shape> shapes = {{3, 1}, {4, 2}, {2, 2}, {5, 1}};
  unsigned seed = 0;
  for (auto shape : shapes) {
    for (int partitions : {1, 3}) {
      std::mt19937 rng(++seed);
      const int batches = 10, interval = 10 + 10 * static_cast<int>(seed % 3);
      std::vector<std::vector<int>> in(batches);
      for (int b = 0; b < batches; ++b)
        if (b % 4 != 1)
          for (int i = static_cast<int>(rng() % 30); i > 0; --i) in[b].push_back(static_cast<int>(rng() % 9));

      trib::StreamingOptions opts;
      opts.partitions = partitions;
      trib::StreamingContext ssc(std::chrono::milliseconds(interval), opts);
      auto q = std::make_shared<trib::BatchQueue<int>>();
      for (auto& b : in) q->push(b);
      auto xs = ssc.queueStream(q);
      auto L = std::chrono::milliseconds(shape.length * interval);
      auto S = std::chrono::milliseconds(shape.slide * interval);
      auto pairs = xs.map([](int x) { return KV(x, 1); });
      auto all = testing::collect(xs);  // every batch: the time reference
      auto win = testing::collect(xs.window(L, S));
      auto counts = testing::collect(xs.countByWindow(L, S));
      auto sums = testing::collect(xs.reduceByWindow([](int a, int b) { return a + b; }, L, S));
      auto plain = testing::collect(pairs.reduceByKeyAndWindow(std::plus<int64_t>(), L, S));
      auto incremental = testing::collect(pairs.reduceByKeyAndWindow(
          std::plus<int64_t>(), std::minus<int64_t>(), L, S, partitions));
      auto filtered = testing::collect(pairs.reduceByKeyAndWindow(
          std::plus<int64_t>(), std::minus<int64_t>(), L, S, partitions,
          [](const KV& kv) { return kv.second != 0; }));
      auto by_value = testing::collect(xs.countByValueAndWindow(L, S));
      const int total = batches + shape.length + 2;  // run past the end: windows drain
      testing::run_batches(ssc, total);

      auto ref = all->get();
      int64_t zero = ref.at(0).first - interval;
      auto index_of = [&](int64_t t) { return (t - zero) / interval - 1; };
      BOOST_TEST_CONTEXT("window " << shape.length << "/" << shape.slide << ", " << partitions
                                   << " partitions") {
        auto w = win->get();
        BOOST_REQUIRE_GE(w.size(), static_cast<std::size_t>(total / shape.slide - 1));
        for (std::size_t i = 0; i < w.size(); ++i) {
          int64_t k = index_of(w[i].first);
          BOOST_TEST((k + 1) % shape.slide == 0, "window at batch " << k);
          if (i > 0) BOOST_TEST(k - index_of(w[i - 1].first) == shape.slide);
          auto want = window_input(in, k, shape.length);
          BOOST_TEST(w[i].second == want, "window contents at batch " << k);
          BOOST_TEST(counts->get()[i].second == std::vector<int64_t>{static_cast<int64_t>(want.size())});
          int sum = 0;
          for (int x : want) sum += x;
          BOOST_TEST(sums->get()[i].second == (want.empty() ? std::vector<int>{} : std::vector<int>{sum}));
          std::map<int, int64_t> freq;
          for (int x : want) ++freq[x];
          BOOST_TEST((oracle::as_map(plain->get()[i].second) == freq), "plain, batch " << k);
          // Spark's semantics: without a filter, every key seen so far stays,
          // with 0 once its values left the window; the filter drops those.
          std::map<int, int64_t> kept;
          for (int64_t b = 0; b <= k && b < static_cast<int64_t>(in.size()); ++b)
            for (int x : in[b]) kept[x] = 0;
          for (auto& [x, c] : freq) kept[x] = c;
          BOOST_TEST((oracle::as_map(incremental->get()[i].second) == kept), "incremental, batch " << k);
          BOOST_TEST(incremental->get()[i].second.size() == kept.size(), "each key once");
          BOOST_TEST((oracle::as_map(filtered->get()[i].second) == freq), "incremental + filter, batch " << k);
          BOOST_TEST(filtered->get()[i].second.size() == freq.size(), "no dead keys left");
          BOOST_TEST((oracle::as_map(by_value->get()[i].second) == freq), "countByValueAndWindow, batch " << k);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(the_incremental_filter_drops_keys) {
  trib::StreamingOptions opts;
  opts.partitions = 2;
  trib::StreamingContext ssc(std::chrono::milliseconds(10), opts);
  auto q = std::make_shared<trib::BatchQueue<KV>>();
  q->push({{1, 5}, {2, 1}});
  q->push({{1, 5}, {3, 7}});
  auto big = testing::collect(ssc.queueStream(q).reduceByKeyAndWindow(
      std::plus<int64_t>(), std::minus<int64_t>(), std::chrono::milliseconds(30),
      std::chrono::milliseconds(10), 0, [](const KV& kv) { return kv.second >= 5; }));
  testing::run_batches(ssc, 2);
  BOOST_TEST((oracle::as_map(big->get()[0].second) == std::map<int, int64_t>{{1, 5}}));
  BOOST_TEST((oracle::as_map(big->get()[1].second) == std::map<int, int64_t>{{1, 10}, {3, 7}}));
}

// Spark's WindowOperationsSuite input for the inverse form (window 2 batches,
// slide 1): keys stay with their inverse-reduced value (0) once their values
// left the window. The expected windows come from a plain loop keeping every
// key seen so far, not from the engine.
BOOST_AUTO_TEST_CASE(the_inverse_form_keeps_zero_keys_as_spark_does) {
  using SV = std::pair<std::string, int64_t>;
  const std::vector<std::vector<SV>> in = {
      {{"a", 1}}, {{"a", 1}, {"b", 1}}, {{"a", 1}, {"b", 1}, {"c", 1}}, {{"a", 1}, {"b", 1}},
      {{"a", 1}}, {}, {{"a", 1}}, {{"a", 1}, {"b", 1}}, {{"a", 1}, {"b", 1}, {"c", 1}},
      {{"a", 1}, {"b", 1}}, {{"a", 1}}, {}};
  for (int partitions : {1, 2, 3}) {
    trib::StreamingOptions opts;
    opts.partitions = partitions;
    trib::StreamingContext ssc(std::chrono::milliseconds(10), opts);
    auto q = std::make_shared<trib::BatchQueue<SV>>();
    for (auto& b : in) q->push(b);
    auto out = testing::collect(ssc.queueStream(q).reduceByKeyAndWindow(
        std::plus<int64_t>(), std::minus<int64_t>(), std::chrono::milliseconds(20),
        std::chrono::milliseconds(10)));
    testing::run_batches(ssc, in.size());
    auto got = out->get();
    BOOST_REQUIRE_GE(got.size(), in.size());
    std::map<std::string, int64_t> seen;
    for (std::size_t k = 0; k < in.size(); ++k) {
      for (auto& [key, v] : seen) v = 0;
      for (std::size_t b = k > 0 ? k - 1 : 0; b <= k; ++b)
        for (auto& [key, v] : in[b]) seen[key] += v;
      BOOST_TEST((oracle::as_map(got[k].second) == seen), "batch " << k << ", " << partitions << " partitions");
    }
    // Spark's expected output at batch 5 (input: {"a",1} then nothing): a=1, b=0, c=0.
    BOOST_TEST((oracle::as_map(got[5].second) ==
                std::map<std::string, int64_t>{{"a", 1}, {"b", 0}, {"c", 0}}));
  }
}

BOOST_AUTO_TEST_CASE(lengths_and_slides_off_the_interval_are_rejected) {
  trib::StreamingContext ssc(std::chrono::milliseconds(100));
  auto q = std::make_shared<trib::BatchQueue<int>>();
  auto xs = ssc.queueStream(q);
  using ms = std::chrono::milliseconds;
  BOOST_CHECK_THROW(xs.window(ms(250), ms(100)), std::invalid_argument);
  BOOST_CHECK_THROW(xs.window(ms(300), ms(150)), std::invalid_argument);
  BOOST_CHECK_THROW(xs.window(ms(0)), std::invalid_argument);
  BOOST_CHECK_THROW(xs.countByWindow(ms(-100), ms(100)), std::invalid_argument);
  auto slow = xs.window(ms(400), ms(200));
  BOOST_CHECK_THROW(slow.window(ms(600), ms(300)), std::invalid_argument);  // parent slides by 200
  try {
    xs.window(ms(250), ms(100));
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("window length 250 ms") != std::string::npos, e.what());
    BOOST_TEST(std::string(e.what()).find("batch interval 100 ms") != std::string::npos, e.what());
  }
}
