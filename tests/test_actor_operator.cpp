// Custom actor operators: one long-lived actor per partition, fed every
// batch in order, keeping state across batches.
#define BOOST_TEST_MODULE actor_operator
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <random>
#include <set>
#include <sstream>

#include "dstream/actor_operator.hpp"
#include "job_helpers.hpp"
#include "temp_dir.hpp"

namespace {

using Event = std::pair<int, int>;  // (id, payload)

struct SeenState {
  std::set<int> seen;
};

// (id, partition) for the ids in `in` that `state` has not seen before.
std::vector<std::pair<int, int>> first_sightings(SeenState& state, const std::vector<Event>& in,
                                                 int partition) {
  std::vector<std::pair<int, int>> out;
  for (auto& [id, payload] : in)
    if (state.seen.insert(id).second) out.emplace_back(id, partition);
  return out;
}

// Emits (id, partition) for ids it has not seen before.
caf::behavior first_sighting(caf::stateful_actor<SeenState>* self, int partition,
                             std::shared_ptr<std::atomic<int>> spawned) {
  ++*spawned;
  return {
      [=](trib::process_atom, int64_t, const std::vector<Event>& in) {
        return first_sightings(self->state, in, partition);
      },
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(operator_actors_keep_state_across_batches) {
  for (int partitions : {1, 3}) {
    std::mt19937 rng(static_cast<unsigned>(partitions));
    std::vector<std::vector<Event>> inputs(8);
    for (auto& batch : inputs)
      for (int i = static_cast<int>(rng() % 60); i > 0; --i)
        batch.emplace_back(static_cast<int>(rng() % 100), i);
    trib::StreamingOptions opts;
    opts.partitions = partitions;
    trib::StreamingContext ssc(std::chrono::milliseconds(20), opts);
    auto queue = std::make_shared<trib::BatchQueue<Event>>();
    for (auto& b : inputs) queue->push(b);
    auto spawned = std::make_shared<std::atomic<int>>(0);
    auto firsts = testing::collect(ssc.queueStream(queue).actorOperator<std::pair<int, int>>(
        [spawned](caf::actor_system& sys, int p) { return sys.spawn(first_sighting, p, spawned); }));
    testing::run_batches(ssc, inputs.size() + 2);

    // Oracle: the ids seen for the first time in each batch.
    std::set<int> seen;
    auto got = firsts->get();
    std::map<int, int> partition_of_id;
    for (std::size_t b = 0; b < inputs.size(); ++b) {
      std::set<int> want, have;
      for (auto& e : inputs[b])
        if (seen.insert(e.first).second) want.insert(e.first);
      for (auto& [id, p] : got[b].second) {
        have.insert(id);
        partition_of_id[id] = p;
      }
      BOOST_TEST(have == want, "batch " << b << ", " << partitions << " partitions");
      BOOST_TEST(got[b].second.size() == want.size(), "no id reported twice");
    }
    for (auto& [id, p] : partition_of_id) BOOST_TEST(p == trib::partition_of(id, partitions));
    BOOST_TEST(spawned->load() == partitions, "one actor per partition for the whole job");
  }
}

BOOST_AUTO_TEST_CASE(an_operator_that_fails_stops_the_job_with_its_error) {
  trib::StreamingContext ssc(std::chrono::milliseconds(20));
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  queue->push({1, 2, 3});
  ssc.queueStream(queue)
      .actorOperator<int>([](caf::actor_system& sys, int) {
        return sys.spawn([]() -> caf::behavior {
          return {[](trib::process_atom, int64_t, const std::vector<int>&) -> caf::result<std::vector<int>> {
            return caf::make_error(caf::sec::runtime_error, "operator rejected the batch");
          }};
        });
      })
      .foreachRDD([](const std::vector<int>&, int64_t) {});
  ssc.start();
  try {
    ssc.awaitTermination();
    BOOST_FAIL("expected the job to fail");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("operator rejected the batch") != std::string::npos, e.what());
    BOOST_TEST(std::string(e.what()).find("actorOperator") != std::string::npos, e.what());
  }
}

namespace {

// Like first_sighting, and able to snapshot and restore its state.
caf::behavior checkpointed_sighting(caf::stateful_actor<SeenState>* self, int partition) {
  return {
      [=](trib::process_atom, int64_t, const std::vector<Event>& in) {
        return first_sightings(self->state, in, partition);
      },
      [=](trib::snapshot_atom) {
        std::string bytes;
        for (int id : self->state.seen) bytes += std::to_string(id) + " ";
        return bytes;
      },
      [=](trib::restore_atom, const std::string& bytes) {
        std::istringstream in(bytes);
        for (int id; in >> id;) self->state.seen.insert(id);
      },
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(operator_state_comes_back_from_a_checkpoint) {
  testing::TempDir dir;
  auto run = [&](const std::vector<std::vector<Event>>& batches) {
    auto queue = std::make_shared<trib::BatchQueue<Event>>();
    for (auto& b : batches) queue->push(b);
    std::shared_ptr<testing::Collector<std::pair<int, int>>> firsts;
    auto ssc = trib::StreamingContext::getOrCreate(dir.path, [&] {
      auto s = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(20));
      firsts = testing::collect(s->queueStream(queue).actorOperator<std::pair<int, int>>(
          [](caf::actor_system& sys, int p) { return sys.spawn(checkpointed_sighting, p); }, 2));
      return s;
    });
    testing::run_batches(*ssc, batches.size() + 1);
    std::set<int> ids;
    for (auto& [t, rows] : firsts->get())
      for (auto& r : rows) ids.insert(r.first);
    return ids;
  };
  auto first = run({{{1, 0}, {2, 0}, {3, 0}}, {{4, 0}}});
  BOOST_TEST((first == std::set<int>{1, 2, 3, 4}));
  // The restarted job remembers ids 1..4: only 5 and 6 are new.
  auto second = run({{{2, 0}, {5, 0}}, {{4, 0}, {6, 0}, {1, 0}}});
  BOOST_TEST((second == std::set<int>{5, 6}));
}
