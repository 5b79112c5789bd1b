// The sink emits records in partition order and batches in time order, even
// when a later partition or a later batch finishes first.
#define BOOST_TEST_MODULE ordering
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <numeric>
#include <sstream>
#include <thread>

#include "job_helpers.hpp"

namespace {

// Remembers the order in which marked events happened.
struct Sequence {
  std::atomic<int> next{0};
  std::atomic<int> slot[64] = {};
  void mark(int event) { slot[event] = ++next; }
  int when(int event) const { return slot[event]; }
};

}  // namespace

BOOST_AUTO_TEST_CASE(later_partition_finishing_first_keeps_partition_order) {
  trib::StreamingOptions opts;
  opts.partitions = 4;
  opts.worker_threads = 4;
  trib::StreamingContext ssc(std::chrono::milliseconds(50), opts);
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  std::vector<int> input(40);
  std::iota(input.begin(), input.end(), 0);
  queue->push(input);
  auto seq = std::make_shared<Sequence>();
  // Partition 0 holds 0..9 and is slow; partition 3 holds 30..39.
  auto out = testing::collect(ssc.queueStream(queue).map([seq](int x) {
    if (x < 10) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    if (x == 9) seq->mark(0);
    if (x == 39) seq->mark(3);
    return x;
  }));
  testing::run_batches(ssc, 1);
  BOOST_TEST(seq->when(3) < seq->when(0), "partition 3 should have finished first");
  BOOST_TEST(out->get().at(0).second == input);
}

BOOST_AUTO_TEST_CASE(batches_are_emitted_in_time_order_when_a_later_one_finishes_first) {
  trib::StreamingOptions opts;
  opts.partitions = 2;
  opts.worker_threads = 4;
  opts.max_concurrent_batches = 4;
  trib::StreamingContext ssc(std::chrono::milliseconds(20), opts);
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  const int batches = 5;
  for (int b = 0; b < batches; ++b) queue->push({b * 100, b * 100 + 1, b * 100 + 2, b * 100 + 3});
  auto seq = std::make_shared<Sequence>();
  auto stream = ssc.queueStream(queue).map([seq](int x) {
    if (x == 3) std::this_thread::sleep_for(std::chrono::milliseconds(300));  // batch 0 is slow
    if (x % 100 == 3) seq->mark(x / 100);  // batch x/100 computed its last record
    return x;
  });
  auto out = testing::collect(stream);
  auto sums = testing::collect(stream.reduce([](int a, int b) { return a + b; }));
  testing::run_batches(ssc, batches);
  BOOST_TEST(seq->when(1) < seq->when(0), "batch 1 should have been computed before batch 0");
  auto got = out->get();
  auto got_sums = sums->get();
  BOOST_REQUIRE_GE(got.size(), static_cast<std::size_t>(batches));
  for (int b = 0; b < batches; ++b) {
    BOOST_TEST(got[b].second == (std::vector<int>{b * 100, b * 100 + 1, b * 100 + 2, b * 100 + 3}));
    BOOST_TEST(got_sums[b].second == std::vector<int>{4 * b * 100 + 6});
    if (b > 0) BOOST_TEST(got[b].first > got[b - 1].first);
  }
}

BOOST_AUTO_TEST_CASE(print_uses_sparks_pprint_format) {
  std::ostringstream printed;
  trib::StreamingOptions opts;
  opts.partitions = 3;
  opts.print_out = &printed;
  trib::StreamingContext ssc(std::chrono::milliseconds(20), opts);
  auto queue = std::make_shared<trib::BatchQueue<std::pair<std::string, int>>>();
  queue->push({{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}});
  queue->push({{"x", 7}});
  auto stream = ssc.queueStream(queue);
  stream.print(3);
  auto times = testing::collect(stream);
  testing::run_batches(ssc, 3);
  auto batches = times->get();
  std::string want;
  for (std::size_t i = 0; i < 3; ++i) {
    want += "-------------------------------------------\nTime: " +
            trib::format_batch_time(batches[i].first) +
            "\n-------------------------------------------\n";
    if (i == 0) want += "(a, 1)\n(b, 2)\n(c, 3)\n...\n";
    if (i == 1) want += "(x, 7)\n";
    want += "\n";
  }
  BOOST_TEST(printed.str().substr(0, want.size()) == want);
}
