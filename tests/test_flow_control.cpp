// Rate limits and backpressure: the token bucket, the PID rate estimator,
// a receiver held to its maximum rate, and the memory the receive-buffer
// bound is sized from.
#define BOOST_TEST_MODULE flow_control
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <unistd.h>

#include "dstream/core/memory_limit.hpp"
#include "io/generator_receiver.hpp"
#include "actors/rate_estimator.hpp"
#include "io/rate_limiter.hpp"
#include "job_helpers.hpp"

BOOST_AUTO_TEST_CASE(the_limiter_spaces_records_at_its_rate) {
  trib::RateLimiter limiter(1000);  // records/s
  // 5000 records reserved at once: the last of them may pass only after
  // about 5 s minus the 0.1 s burst allowance.
  std::chrono::microseconds wait{0};
  for (int i = 0; i < 50; ++i) wait = limiter.reserve(100);
  double seconds = wait.count() / 1e6;
  BOOST_TEST(seconds >= 4.8);
  BOOST_TEST(seconds <= 5.0);
  trib::RateLimiter unlimited(0);
  for (int i = 0; i < 50; ++i) BOOST_TEST(unlimited.reserve(100000).count() == 0);
}

BOOST_AUTO_TEST_CASE(the_estimator_follows_the_processing_rate_and_drains_delay) {
  trib::PidRateEstimator pid(1000);
  // The first batch only sets the starting point.
  BOOST_TEST(!pid.compute(1000, 5000, 500, 0));
  // Keeping up (no scheduling delay): the rate becomes the processing rate.
  auto r = pid.compute(2000, 5000, 500, 0);
  BOOST_REQUIRE(r);
  BOOST_TEST(*r == 10000.0, boost::test_tools::tolerance(1e-9));
  // Falling behind (delay builds up): the rate drops below the processing rate.
  auto slower = pid.compute(3000, 10000, 2000, 1000);  // 5000/s with 1 s of delay
  BOOST_REQUIRE(slower);
  BOOST_TEST(*slower < 5000.0);
  // However bad it gets, never below the minimum rate.
  auto floor = pid.compute(4000, 10000, 100000, 100000);
  BOOST_REQUIRE(floor);
  BOOST_TEST(*floor == 100.0, boost::test_tools::tolerance(1e-9));
  // Batches that say nothing about the rate change nothing.
  BOOST_TEST(!pid.compute(5000, 0, 0, 0));
  BOOST_TEST(!pid.compute(4000, 100, 10, 0));  // not newer than the last update
}

BOOST_AUTO_TEST_CASE(a_receiver_never_exceeds_its_maximum_rate) {
  trib::StreamingOptions opts;
  opts.max_rate_per_receiver = 2000;
  trib::StreamingContext ssc(std::chrono::milliseconds(100), opts);
  trib::GeneratorOptions gen;
  gen.lines_per_second = 0;  // as fast as it can
  ssc.generatorStream(gen).count().foreachRDD([](const std::vector<int64_t>&, int64_t) {});
  auto start = std::chrono::steady_clock::now();
  ssc.start();
  BOOST_REQUIRE(ssc.awaitBatches(5, std::chrono::seconds(60)));
  int64_t received = ssc.receivedRecords();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // An upper bound only: a slow machine can receive less, never more. (At
  // the stop, records the receiver already holds are still taken in.)
  BOOST_TEST(received <= 2000 * elapsed + 200 + 1);
  BOOST_TEST(received > 0);
  ssc.stop(true);
  int64_t processed = 0;
  for (auto& b : ssc.completedBatches()) processed += b.input_records;
  BOOST_TEST(processed == ssc.receivedRecords(), "a graceful stop processes everything received");
}

// The receive-buffer bound's default takes at most a quarter of the memory
// the process may use, which a cgroup (a container) can hold below the
// machine's: its limit files, at every level of the cgroup's path.
BOOST_AUTO_TEST_CASE(cgroup_memory_limits_are_read_from_the_cgroup_and_its_ancestors) {
  BOOST_TEST(trib::parse_memory_limit("536870912\n").value_or(0) == 536870912u);
  BOOST_TEST(!trib::parse_memory_limit("max\n"));                  // v2: no limit
  BOOST_TEST(!trib::parse_memory_limit("9223372036854771712\n"));  // v1: no limit
  BOOST_TEST(!trib::parse_memory_limit(""));
  BOOST_TEST(!trib::parse_memory_limit("12 MiB"));

  std::string root = "/tmp/tributary-cgroup-" + std::to_string(::getpid());
  std::filesystem::create_directories(root + "/job/app");
  auto write = [&](const std::string& file, const std::string& text) { std::ofstream(root + file) << text; };
  BOOST_TEST(!trib::cgroup_memory_limit(root, "/job/app"));  // no limit files at all
  write("/job/memory.max", "1073741824\n");
  write("/job/app/memory.max", "max\n");
  BOOST_TEST(trib::cgroup_memory_limit(root, "/job/app").value_or(0) == 1073741824u);  // the parent's
  write("/job/app/memory.max", "268435456\n");
  BOOST_TEST(trib::cgroup_memory_limit(root, "/job/app/").value_or(0) == 268435456u);  // the tighter
  write("/memory.limit_in_bytes", "134217728\n");  // v1's file, at the root
  BOOST_TEST(trib::cgroup_memory_limit(root, "/job/app").value_or(0) == 134217728u);
  BOOST_TEST(trib::cgroup_memory_limit(root, "/").value_or(0) == 134217728u);
  std::filesystem::remove_all(root);

  // This process: never more than the machine has.
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  BOOST_TEST(trib::usable_memory_bytes() > 0u);
  BOOST_TEST(trib::usable_memory_bytes() <= static_cast<std::size_t>(pages) * static_cast<std::size_t>(page));
}
