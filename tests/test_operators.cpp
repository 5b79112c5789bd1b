// Every operator, batch by batch, against a plain loop over the same records.
// Inputs are random (several seeds, partition counts and batch intervals) and
// include empty batches.
#define BOOST_TEST_MODULE operators
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <functional>
#include <random>

#include "dstream/core/job_monitor.hpp"
#include "job_helpers.hpp"
#include "oracle.hpp"

using Batches = std::vector<std::vector<int>>;
using KV = std::pair<int, int>;

namespace {

Batches random_batches(unsigned seed, int count) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> size(0, 300), value(-1000, 1000);
  Batches batches;
  for (int b = 0; b < count; ++b) {
    // Every fourth batch is empty: operators must handle empty input.
    int n = b % 4 == 2 ? 0 : size(rng);
    std::vector<int> xs;
    for (int i = 0; i < n; ++i) xs.push_back(value(rng));
    batches.push_back(xs);
  }
  return batches;
}

struct Config {
  unsigned seed;
  int partitions;
  int interval_ms;
};

std::ostream& operator<<(std::ostream& os, const Config& c) {
  return os << "seed=" << c.seed << " partitions=" << c.partitions
            << " interval=" << c.interval_ms << "ms";
}

const std::vector<Config> kConfigs = {
    {1, 1, 20}, {2, 3, 20}, {3, 4, 50}, {4, 2, 10}, {5, 7, 30},
};

// Checks the batches an output emitted: consecutive batch times, and the
// first inputs.size() batches equal to `expected(input batch)`.
template <class T, class F>
void check_batches(const char* op, const std::vector<std::pair<int64_t, std::vector<T>>>& got,
                   const Batches& inputs, int interval_ms, F expected) {
  BOOST_TEST_CONTEXT(op) {
    BOOST_REQUIRE_GE(got.size(), inputs.size());
    for (std::size_t i = 1; i < got.size(); ++i)
      BOOST_TEST(got[i].first - got[i - 1].first == interval_ms, "batch times in order");
    for (std::size_t i = 0; i < inputs.size(); ++i)
      BOOST_TEST(expected(inputs[i], got[i].second), "batch " << i);
  }
}

}  // namespace

BOOST_DATA_TEST_CASE(narrow_operators_keep_records_and_order,
                     boost::unit_test::data::make(kConfigs), cfg) {
  auto inputs = random_batches(cfg.seed, 9);
  trib::StreamingOptions opts;
  opts.partitions = cfg.partitions;
  trib::StreamingContext ssc(std::chrono::milliseconds(cfg.interval_ms), opts);
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  for (auto& b : inputs) queue->push(b);
  auto xs = ssc.queueStream(queue);

  auto mapped = testing::collect(xs.map([](int x) { return 3 * x + 1; }));
  auto filtered = testing::collect(xs.filter([](int x) { return x % 2 == 0; }));
  auto flat = testing::collect(xs.flatMap([](int x) {
    return x % 3 == 0 ? std::vector<int>{x, x + 5000} : std::vector<int>{};
  }));
  auto chained = testing::collect(
      xs.filter([](int x) { return x > 0; }).map([](int x) { return std::to_string(x); }));
  auto part_sums = testing::collect(xs.mapPartitions([](const std::vector<int>& rows) {
    int64_t sum = 0;
    for (int x : rows) sum += x;
    return std::vector<int64_t>{sum};
  }));
  auto pairs = xs.map([](int x) { return KV(x % 7, x); });
  auto values = testing::collect(pairs.mapValues([](int v) { return v * 2; }));
  auto flat_values = testing::collect(
      pairs.flatMapValues([](int v) { return std::vector<int>(v > 900 ? 2 : 0, v); }));

  testing::run_batches(ssc, inputs.size());

  check_batches("map", mapped->get(), inputs, cfg.interval_ms, [](auto& in, auto& out) {
    std::vector<int> want;
    for (int x : in) want.push_back(3 * x + 1);
    return out == want;
  });
  check_batches("filter", filtered->get(), inputs, cfg.interval_ms, [](auto& in, auto& out) {
    std::vector<int> want;
    for (int x : in)
      if (x % 2 == 0) want.push_back(x);
    return out == want;
  });
  check_batches("flatMap", flat->get(), inputs, cfg.interval_ms, [](auto& in, auto& out) {
    std::vector<int> want;
    for (int x : in)
      if (x % 3 == 0) {
        want.push_back(x);
        want.push_back(x + 5000);
      }
    return out == want;
  });
  check_batches("filter+map", chained->get(), inputs, cfg.interval_ms,
                [](auto& in, auto& out) {
                  std::vector<std::string> want;
                  for (int x : in)
                    if (x > 0) want.push_back(std::to_string(x));
                  return out == want;
                });
  check_batches("mapPartitions", part_sums->get(), inputs, cfg.interval_ms,
                [&](auto& in, auto& out) {
                  // One output record per partition; the batch is sliced as
                  // Spark's parallelize does: partition i holds records
                  // [i*size/n, (i+1)*size/n).
                  const std::size_t n = static_cast<std::size_t>(cfg.partitions);
                  std::vector<int64_t> want(n, 0);
                  for (std::size_t p = 0; p < n; ++p)
                    for (std::size_t j = p * in.size() / n; j < (p + 1) * in.size() / n; ++j)
                      want[p] += in[j];
                  return out == want;
                });
  check_batches("mapValues", values->get(), inputs, cfg.interval_ms, [](auto& in, auto& out) {
    std::vector<KV> want;
    for (int x : in) want.emplace_back(x % 7, 2 * x);
    return out == want;
  });
  check_batches("flatMapValues", flat_values->get(), inputs, cfg.interval_ms,
                [](auto& in, auto& out) {
                  std::vector<KV> want;
                  for (int x : in)
                    if (x > 900) want.insert(want.end(), 2, KV(x % 7, x));
                  return out == want;
                });
}

BOOST_DATA_TEST_CASE(shuffles_and_aggregates_match_a_plain_loop,
                     boost::unit_test::data::make(kConfigs), cfg) {
  auto inputs = random_batches(cfg.seed + 100, 9);
  trib::StreamingOptions opts;
  opts.partitions = cfg.partitions;
  trib::StreamingContext ssc(std::chrono::milliseconds(cfg.interval_ms), opts);
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  for (auto& b : inputs) queue->push(b);
  auto xs = ssc.queueStream(queue);
  auto pairs = xs.map([](int x) { return KV(((x % 11) + 11) % 11, x); });

  auto sums = testing::collect(pairs.reduceByKey(std::plus<int>()));
  auto sums_3 = testing::collect(pairs.reduceByKey(std::plus<int>(), 3));
  auto groups = testing::collect(pairs.groupByKey());
  auto counts = testing::collect(xs.count());
  auto maxima = testing::collect(xs.reduce([](int a, int b) { return std::max(a, b); }));
  auto by_value = testing::collect(xs.map([](int x) { return x % 4; }).countByValue());
  auto spread = testing::collect(xs.repartition(3));
  auto both = testing::collect(xs.union_with(xs.map([](int x) { return -x; })));
  auto top3 = testing::collect(xs.transform([](const std::vector<int>& rows, int64_t t) {
    std::vector<int> sorted = rows;
    std::sort(sorted.rbegin(), sorted.rend());
    sorted.resize(std::min<std::size_t>(3, sorted.size()));
    sorted.push_back(static_cast<int>(t % 100000));  // the batch time reaches f
    return sorted;
  }));

  testing::run_batches(ssc, inputs.size());

  auto sum_oracle = [](const std::vector<int>& in) {
    std::map<int, int> m;
    for (int x : in) m[((x % 11) + 11) % 11] += x;
    return m;
  };
  check_batches("reduceByKey", sums->get(), inputs, cfg.interval_ms,
                [&](auto& in, auto& out) {
                  return oracle::as_map(out) == sum_oracle(in) && out.size() == sum_oracle(in).size();
                });
  check_batches("reduceByKey(3 partitions)", sums_3->get(), inputs, cfg.interval_ms,
                [&](auto& in, auto& out) { return oracle::as_map(out) == sum_oracle(in); });
  check_batches("groupByKey", groups->get(), inputs, cfg.interval_ms, [](auto& in, auto& out) {
    std::map<int, std::vector<int>> want, got;
    for (int x : in) want[((x % 11) + 11) % 11].push_back(x);
    for (auto& w : want) std::sort(w.second.begin(), w.second.end());
    for (auto& g : out) got[g.first] = oracle::sorted(g.second);
    return got == want && out.size() == want.size();
  });
  check_batches("count", counts->get(), inputs, cfg.interval_ms, [](auto& in, auto& out) {
    return out == std::vector<int64_t>{static_cast<int64_t>(in.size())};
  });
  check_batches("reduce", maxima->get(), inputs, cfg.interval_ms, [](auto& in, auto& out) {
    if (in.empty()) return out.empty();
    return out == std::vector<int>{*std::max_element(in.begin(), in.end())};
  });
  check_batches("countByValue", by_value->get(), inputs, cfg.interval_ms,
                [](auto& in, auto& out) {
                  std::map<int, int64_t> want;
                  for (int x : in) ++want[x % 4];
                  return oracle::as_map(out) == want && out.size() == want.size();
                });
  check_batches("repartition", spread->get(), inputs, cfg.interval_ms,
                [](auto& in, auto& out) { return oracle::sorted(out) == oracle::sorted(in); });
  check_batches("union", both->get(), inputs, cfg.interval_ms, [](auto& in, auto& out) {
    std::vector<int> want = in;
    for (int x : in) want.push_back(-x);
    return out == want;  // union keeps each side's order, first side first
  });
  auto top = top3->get();
  check_batches("transform", top, inputs, cfg.interval_ms, [](auto& in, auto& out) {
    std::vector<int> want = oracle::sorted(in);
    std::reverse(want.begin(), want.end());
    want.resize(std::min<std::size_t>(3, want.size()));
    return std::vector<int>(out.begin(), out.end() - 1) == want;
  });
  for (auto& [t, rows] : top) BOOST_TEST(rows.back() == static_cast<int>(t % 100000));
}

BOOST_AUTO_TEST_CASE(word_count_over_text_matches_a_plain_loop) {
  std::mt19937 rng(7);
  std::vector<std::vector<std::string>> inputs;
  const char* words[] = {"a", "b", "c", "stream", "actor", "x"};
  for (int b = 0; b < 6; ++b) {
    std::vector<std::string> lines;
    for (int i = 0; i < 200; ++i) {
      std::string line;
      for (int w = static_cast<int>(rng() % 6); w > 0; --w) line += std::string(words[rng() % 6]) + "  ";
      lines.push_back(line);
    }
    inputs.push_back(lines);
  }
  trib::StreamingOptions opts;
  opts.partitions = 3;
  trib::StreamingContext ssc(std::chrono::milliseconds(20), opts);
  auto queue = std::make_shared<trib::BatchQueue<std::string>>();
  for (auto& b : inputs) queue->push(b);
  auto counts = testing::collect(
      ssc.queueStream(queue)
          .flatMap(trib::split_words)
          .map([](const std::string& w) { return std::pair<std::string, int64_t>(w, 1); })
          .reduceByKey(std::plus<int64_t>()));
  testing::run_batches(ssc, inputs.size());
  auto got = counts->get();
  BOOST_REQUIRE_GE(got.size(), inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i)
    BOOST_TEST((oracle::as_map(got[i].second) == oracle::word_counts(inputs[i])), "batch " << i);
}

// reduceByKey runs a chain written as one expression record by record into
// its table (FusedDStream); the same chain through a plain DStream variable,
// or after an assignment, runs chunk by chunk. All must count alike.
BOOST_AUTO_TEST_CASE(a_chain_fused_into_reduce_by_key_counts_as_the_chunked_chain_does) {
  std::mt19937 rng(11);
  std::vector<std::vector<std::string>> inputs;
  const char* words[] = {"a", "bb", "ccc", "stream", "a-word-longer-than-sixteen-bytes", "x", "yy"};
  for (int b = 0; b < 5; ++b) {
    std::vector<std::string> lines;
    for (int i = 0; i < 300 + 50 * b; ++i) {
      std::string line;
      for (int w = static_cast<int>(rng() % 9); w > 0; --w) line += std::string(words[rng() % 7]) + " \t";
      lines.push_back(line);
    }
    inputs.push_back(lines);
  }
  using Count = std::pair<trib::Text, int64_t>;
  auto longer_than_one = [](trib::Text w) { return w.size() > 1; };
  auto with_one = [](trib::Text w) { return Count(w, 1); };
  trib::StreamingOptions opts;
  opts.partitions = 3;
  trib::StreamingContext ssc(std::chrono::milliseconds(20), opts);
  auto queue = std::make_shared<trib::BatchQueue<std::string>>();
  auto queue2 = std::make_shared<trib::BatchQueue<std::string>>();  // each queueStream takes its own
  for (auto& b : inputs) queue->push(b), queue2->push(b);
  auto text = ssc.queueStream(queue).map([](const std::string& l) { return trib::Text(l.data(), l.size()); });

  auto fused = testing::collect(
      text.flatMap(trib::split_words).filter(longer_than_one).map(with_one).reduceByKey(std::plus<int64_t>()));
  // Plain DStream variables at every step: chunk by chunk throughout.
  trib::DStream<trib::Text> plain_words = text.flatMap(trib::split_words);
  trib::DStream<trib::Text> plain_longer = plain_words.filter(longer_than_one);
  trib::DStream<Count> plain_pairs = plain_longer.map(with_one);
  auto chunked = testing::collect(plain_pairs.reduceByKey(std::plus<int64_t>()));
  auto reassigned = text.flatMap(trib::split_words);
  reassigned = reassigned.filter(longer_than_one);
  auto after_assignment = testing::collect(reassigned.map(with_one).reduceByKey(std::plus<int64_t>(), 2));
  // A flatMap whose function returns a container of strings, fused too.
  auto from_strings = testing::collect(
      ssc.queueStream(queue2)
          .flatMap([](const std::string& l) { return trib::split_words(l); })
          .filter([](const std::string& w) { return w.size() > 1; })
          .map([](const std::string& w) { return std::pair<std::string, int64_t>(w, 1); })
          .reduceByKey(std::plus<int64_t>()));
  testing::run_batches(ssc, inputs.size());

  for (auto* c : {&fused, &chunked, &after_assignment}) {
    auto got = (*c)->get();
    BOOST_REQUIRE_GE(got.size(), inputs.size());
  }
  auto got_strings = from_strings->get();
  BOOST_REQUIRE_GE(got_strings.size(), inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::map<std::string, int64_t> want;
    for (auto& [w, n] : oracle::word_counts(inputs[i]))
      if (w.size() > 1) want[w] = n;
    BOOST_TEST((oracle::as_map(fused->get()[i].second) == want), "fused, batch " << i);
    BOOST_TEST((oracle::as_map(chunked->get()[i].second) == want), "chunked, batch " << i);
    BOOST_TEST((oracle::as_map(after_assignment->get()[i].second) == want), "assigned, batch " << i);
    BOOST_TEST((oracle::as_map(got_strings[i].second) == want), "strings, batch " << i);
    BOOST_TEST(fused->get()[i].second.size() == want.size());
  }
}

// bool records pass between fused operations in chunks too, although
// std::vector<bool> is no array of bools.
BOOST_AUTO_TEST_CASE(a_stream_of_bools_goes_through_the_fused_chain) {
  std::vector<std::vector<int>> inputs;
  for (int b = 0; b < 3; ++b) {
    std::vector<int> batch;
    for (int i = 0; i < 1000 + 300 * b; ++i) batch.push_back(i);
    inputs.push_back(batch);
  }
  trib::StreamingOptions opts;
  opts.partitions = 2;
  trib::StreamingContext ssc(std::chrono::milliseconds(20), opts);
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  for (auto& b : inputs) queue->push(b);
  auto flags = ssc.queueStream(queue).map([](int x) { return x % 3 == 0; });
  auto all = testing::collect(flags);
  auto kept = testing::collect(flags.filter([](bool b) { return b; }).map([](bool b) { return b ? 1 : 0; }));
  testing::run_batches(ssc, inputs.size());
  auto got_all = all->get();
  auto got_kept = kept->get();
  BOOST_REQUIRE_GE(got_all.size(), inputs.size());
  BOOST_REQUIRE_GE(got_kept.size(), inputs.size());
  for (std::size_t b = 0; b < inputs.size(); ++b) {
    std::size_t thirds = (inputs[b].size() + 2) / 3;
    BOOST_TEST(got_all[b].second.size() == inputs[b].size());
    std::size_t trues = 0;
    for (bool f : got_all[b].second) trues += f;
    BOOST_TEST(trues == thirds);
    BOOST_TEST(got_kept[b].second.size() == thirds);
  }
}

BOOST_AUTO_TEST_CASE(declaring_operations_after_start_is_an_error) {
  trib::StreamingContext ssc(std::chrono::milliseconds(20));
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  auto xs = ssc.queueStream(queue);
  xs.count().foreachRDD([](const std::vector<int64_t>&, int64_t) {});
  ssc.start();
  BOOST_CHECK_THROW(xs.count(), std::logic_error);
  ssc.stop(false);
}

BOOST_AUTO_TEST_CASE(start_without_outputs_is_an_error) {
  trib::StreamingContext ssc(std::chrono::milliseconds(20));
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  ssc.queueStream(queue).map([](int x) { return x; });
  BOOST_CHECK_THROW(ssc.start(), std::logic_error);
}

BOOST_AUTO_TEST_CASE(an_exception_in_user_code_stops_the_job_with_its_message) {
  trib::StreamingContext ssc(std::chrono::milliseconds(20));
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  queue->push({1, 2, 3});
  ssc.queueStream(queue)
      .map([](int x) {
        if (x == 2) throw std::runtime_error("bad record 2");
        return x;
      })
      .foreachRDD([](const std::vector<int>&, int64_t) {});
  ssc.start();
  try {
    ssc.awaitTermination();
    BOOST_FAIL("awaitTermination() should rethrow the task's error");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("bad record 2") != std::string::npos, e.what());
  }
}

// Spark's ParallelCollectionRDD.slice: [1,2,3,4] into 3 is [1] [2] [3,4].
BOOST_AUTO_TEST_CASE(batches_are_sliced_into_partitions_as_spark_slices_a_collection) {
  trib::StreamingOptions opts;
  opts.partitions = 3;
  trib::StreamingContext ssc(std::chrono::milliseconds(10), opts);
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  queue->push({1, 2, 3, 4});
  queue->push({1, 2, 3, 4, 5, 6, 7});
  queue->push({1});
  queue->push({});
  auto glom = testing::collect(ssc.queueStream(queue).mapPartitions([](const std::vector<int>& rows) {
    return std::vector<std::vector<int>>{rows};
  }));
  testing::run_batches(ssc, 4);
  auto got = glom->get();
  using P = std::vector<std::vector<int>>;
  BOOST_TEST((got.at(0).second == P{{1}, {2}, {3, 4}}));
  BOOST_TEST((got.at(1).second == P{{1, 2}, {3, 4}, {5, 6, 7}}));
  // Tasks over empty partitions run where they are dispatched, not in
  // actors of their own (actors/partition_host.cpp): they still run.
  BOOST_TEST((got.at(2).second == P{{}, {}, {1}}));
  BOOST_TEST((got.at(3).second == P{{}, {}, {}}));
}

// The completed-batch history is a ring of the most recent batches: a job
// that runs for months does not grow with it; awaitBatches counts them all.
BOOST_AUTO_TEST_CASE(the_batch_history_keeps_the_most_recent_batches) {
  trib::JobMonitor monitor(100);
  for (int64_t i = 0; i < 2500; ++i) {
    trib::BatchInfo b;
    b.batch_index = i;
    monitor.batch_completed(b);
  }
  auto kept = monitor.completed();
  BOOST_REQUIRE_EQUAL(kept.size(), 100u);
  BOOST_TEST(kept.front().batch_index == 2400);
  BOOST_TEST(kept.back().batch_index == 2499);
  BOOST_TEST(monitor.completed_count() == 2500u);
  BOOST_TEST(monitor.wait_batches(2500, std::chrono::milliseconds(0)));

  trib::StreamingOptions opts;
  opts.retained_batches = 3;
  trib::StreamingContext ssc(std::chrono::milliseconds(10), opts);
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  auto times = testing::collect(ssc.queueStream(queue));
  testing::run_batches(ssc, 8);
  auto recent = ssc.completedBatches();
  BOOST_REQUIRE_EQUAL(recent.size(), 3u);
  BOOST_TEST(ssc.completedBatchCount() >= 8u);
  auto seen = times->get();
  BOOST_REQUIRE(seen.size() >= 3u);
  // The ring ends with the last batch completed, oldest first.
  BOOST_TEST(recent[2].batch_index == recent[0].batch_index + 2);
}
