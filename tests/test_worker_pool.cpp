// The coordinator's bookkeeping of worker nodes: round robin that skips
// workers marked slow, removal, and the median task time that speculation
// compares against (checked against a plain sort).
#define BOOST_TEST_MODULE worker_pool
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <random>

#include "actors/worker_pool.hpp"

namespace {

caf::behavior idle(caf::event_based_actor*) {
  return {[](int) {}};
}

struct Hosts {
  Hosts() : system(config) {
    for (int i = 0; i < 3; ++i) actors.push_back(system.spawn(idle));
  }
  ~Hosts() {
    for (auto& a : actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  caf::actor_system_config config;
  caf::actor_system system;
  std::vector<caf::actor> actors;
};

}  // namespace

BOOST_AUTO_TEST_CASE(round_robin_skips_slow_workers_unless_all_are_slow) {
  Hosts h;
  trib::WorkerPool pool;
  auto now = trib::WorkerPool::clock::now();
  for (auto& a : h.actors) pool.add(a, now);
  BOOST_TEST(pool.all()[2].label == "worker-3");
  std::vector<std::string> turns;
  for (int i = 0; i < 6; ++i) turns.push_back(pool.next_not_slow(now).label);
  BOOST_TEST((turns == std::vector<std::string>{"worker-1", "worker-2", "worker-3", "worker-1", "worker-2",
                                                "worker-3"}));
  pool.find(h.actors[1].address())->slow_until = now + std::chrono::seconds(5);
  for (int i = 0; i < 6; ++i) BOOST_TEST(pool.next_not_slow(now).label != "worker-2");
  // Once the mark has passed it takes tasks again.
  bool seen = false;
  for (int i = 0; i < 3; ++i) seen |= pool.next_not_slow(now + std::chrono::seconds(6)).label == "worker-2";
  BOOST_TEST(seen);
  for (auto& w : pool.all()) w.slow_until = now + std::chrono::seconds(5);
  pool.next_not_slow(now);  // all slow: still answers

  std::string label;
  BOOST_TEST(pool.remove(h.actors[0].address(), &label));
  BOOST_TEST(label == "worker-1");
  BOOST_TEST(!pool.remove(h.actors[0].address()));
  BOOST_TEST(pool.size() == 2u);
  BOOST_TEST(pool.other_than({h.actors[1].address()})->label == "worker-3");
  BOOST_TEST(pool.other_than({h.actors[1].address(), h.actors[2].address()}) == nullptr);
  // Labels are never reused.
  BOOST_TEST(pool.add(h.actors[0], now).label == "worker-4");
}

BOOST_AUTO_TEST_CASE(the_median_of_recent_task_times_needs_ten_samples) {
  trib::TaskTimes times;
  std::mt19937 rng(7);
  std::vector<double> all;
  for (int i = 0; i < 9; ++i) {
    all.push_back(std::uniform_real_distribution<double>(0, 100)(rng));
    times.add(all.back());
  }
  BOOST_TEST(!times.median());
  for (int i = 0; i < 500; ++i) {
    all.push_back(std::uniform_real_distribution<double>(0, 100)(rng));
    times.add(all.back());
    std::vector<double> recent(all.end() - std::min<std::ptrdiff_t>(200, static_cast<std::ptrdiff_t>(all.size())),
                               all.end());
    std::sort(recent.begin(), recent.end());
    BOOST_REQUIRE(times.median());
    BOOST_TEST(*times.median() == recent[recent.size() / 2]);
  }
}
