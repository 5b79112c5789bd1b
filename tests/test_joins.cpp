// Joins, cogroup and transformWith against nested loops over the same
// random batches: keys on one side only, duplicate keys on both sides,
// empty batches on either side.
#define BOOST_TEST_MODULE joins
#include <boost/test/unit_test.hpp>

#include <random>

#include "job_helpers.hpp"
#include "oracle.hpp"

namespace {

using KV = std::pair<int, int>;
using KS = std::pair<int, std::string>;
using Batches = std::vector<std::vector<KV>>;

Batches random_pairs(std::mt19937& rng, int batches, int keys) {
  Batches out(batches);
  for (int b = 0; b < batches; ++b) {
    if (rng() % 4 == 0) continue;  // empty batch on this side
    for (int i = static_cast<int>(rng() % 40); i > 0; --i)
      out[b].emplace_back(static_cast<int>(rng() % keys), static_cast<int>(rng() % 1000));
  }
  return out;
}

template <class T>
std::vector<T> sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(joins_match_nested_loops) {
  for (unsigned seed = 1; seed <= 4; ++seed) {
    std::mt19937 rng(seed);
    int partitions = 1 + static_cast<int>(seed % 4);
    const int batches = 8;
    auto left_in = random_pairs(rng, batches, 12);
    auto right_raw = random_pairs(rng, batches, 12);
    std::vector<std::vector<KS>> right_in(batches);
    for (int b = 0; b < batches; ++b)
      for (auto& [k, v] : right_raw[b]) right_in[b].emplace_back(k, "s" + std::to_string(v));

    trib::StreamingOptions opts;
    opts.partitions = partitions;
    trib::StreamingContext ssc(std::chrono::milliseconds(10 + 10 * (seed % 3)), opts);
    auto lq = std::make_shared<trib::BatchQueue<KV>>();
    auto rq = std::make_shared<trib::BatchQueue<KS>>();
    for (int b = 0; b < batches; ++b) {
      lq->push(left_in[b]);
      rq->push(right_in[b]);
    }
    auto left = ssc.queueStream(lq);
    auto right = ssc.queueStream(rq);
    auto inner = testing::collect(left.join(right));
    auto lefto = testing::collect(left.leftOuterJoin(right, 3));
    auto righto = testing::collect(left.rightOuterJoin(right));
    auto fullo = testing::collect(left.fullOuterJoin(right));
    auto groups = testing::collect(left.cogroup(right));
    auto sizes = testing::collect(left.transformWith(
        right, [](const std::vector<KV>& l, const std::vector<KS>& r, int64_t t) {
          return std::vector<int64_t>{static_cast<int64_t>(l.size()), static_cast<int64_t>(r.size()), t};
        }));
    testing::run_batches(ssc, batches);

    for (int b = 0; b < batches; ++b) {
      BOOST_TEST_CONTEXT("seed " << seed << " batch " << b) {
        using OI = std::optional<int>;
        using OS = std::optional<std::string>;
        std::vector<std::pair<int, std::pair<int, std::string>>> want_inner;
        std::vector<std::pair<int, std::pair<int, OS>>> want_left;
        std::vector<std::pair<int, std::pair<OI, std::string>>> want_right;
        std::vector<std::pair<int, std::pair<OI, OS>>> want_full;
        std::map<int, std::pair<std::vector<int>, std::vector<std::string>>> want_groups;
        for (auto& [k, v] : left_in[b]) {
          bool matched = false;
          for (auto& [k2, w] : right_in[b])
            if (k == k2) {
              matched = true;
              want_inner.push_back({k, {v, w}});
              want_left.push_back({k, {v, OS(w)}});
              want_right.push_back({k, {OI(v), w}});
              want_full.push_back({k, {OI(v), OS(w)}});
            }
          if (!matched) {
            want_left.push_back({k, {v, OS()}});
            want_full.push_back({k, {OI(v), OS()}});
          }
          want_groups[k].first.push_back(v);
        }
        for (auto& [k2, w] : right_in[b]) {
          bool matched = false;
          for (auto& kv : left_in[b]) matched |= kv.first == k2;
          if (!matched) {
            want_right.push_back({k2, {OI(), w}});
            want_full.push_back({k2, {OI(), OS(w)}});
          }
          want_groups[k2].second.push_back(w);
        }
        BOOST_TEST((sorted(inner->get()[b].second) == sorted(want_inner)));
        BOOST_TEST((sorted(lefto->get()[b].second) == sorted(want_left)));
        BOOST_TEST((sorted(righto->get()[b].second) == sorted(want_right)));
        BOOST_TEST((sorted(fullo->get()[b].second) == sorted(want_full)));
        std::map<int, std::pair<std::vector<int>, std::vector<std::string>>> got_groups;
        auto group_batches = groups->get();
        for (auto& [k, g] : group_batches[b].second) got_groups[k] = {sorted(g.first), sorted(g.second)};
        for (auto& [k, g] : want_groups) g = {sorted(g.first), sorted(g.second)};
        BOOST_TEST((got_groups == want_groups));
        BOOST_TEST(group_batches[b].second.size() == want_groups.size(), "one record per key");
        auto s = sizes->get()[b];
        BOOST_TEST((s.second == std::vector<int64_t>{static_cast<int64_t>(left_in[b].size()),
                                                      static_cast<int64_t>(right_in[b].size()), s.first}));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(joining_streams_with_different_slides_is_rejected) {
  trib::StreamingContext ssc(std::chrono::milliseconds(10));
  auto q = std::make_shared<trib::BatchQueue<KV>>();
  auto s = ssc.queueStream(q);
  auto windowed = s.window(std::chrono::milliseconds(40), std::chrono::milliseconds(20));
  BOOST_CHECK_THROW(s.join(windowed), std::invalid_argument);
}
