// The coordinator's plain parts on their own, with times the test sets:
// the batch clock, the job's phase and stop, worker membership (joins, the min-workers gate,
// heartbeats), the checkpoint coordinator (rounds, retakes, writing), where the task
// dispatcher sends tasks, and how a receiver actor hands its lines over.
#define BOOST_TEST_MODULE coordinator_parts
#include <boost/test/unit_test.hpp>

#include <caf/all.hpp>

#include "actors/batch_clock.hpp"
#include "actors/checkpoint_coordinator.hpp"
#include "actors/messages.hpp"
#include "actors/receiver_actor.hpp"
#include "actors/job_lifecycle.hpp"
#include "actors/task_dispatcher.hpp"
#include "actors/worker_membership.hpp"
#include "temp_dir.hpp"

using namespace trib;
using namespace std::chrono_literals;
using steady_clock = std::chrono::steady_clock;

namespace {

// Actor handles for membership to hold; they never receive anything.
struct Handles {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::actor make() {
    return sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  }
  ~Handles() {
    for (auto& a : made) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  std::vector<caf::actor> made;
  caf::actor operator()() { return made.emplace_back(make()); }
};

// Records which host each task was sent to.
struct RecordingOutbox : TaskOutbox {
  struct Sent {
    caf::actor_addr host;
    TaskSpec spec;
  };
  std::vector<Sent> sent;
  void send_task(const caf::actor& host, TaskSpec spec) override { sent.push_back({host.address(), std::move(spec)}); }
  void send_restore(const caf::actor&, const PartitionKey&, std::string) override {}
  void send_drop(const caf::actor&, const PartitionKey&) override {}
};

TaskSpec task(Phase phase, int index) {
  TaskSpec spec;
  spec.id = TaskId{100, 0, phase, 0, index};
  spec.keep_output = true;  // as the executor asks for a shuffle's map tasks
  return spec;
}

TaskResult result_of(const TaskSpec& spec) {
  TaskResult r;
  r.id = spec.id;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(batch_times_are_multiples_of_the_interval_after_the_start) {
  BatchClock clock(100);
  clock.start(12'345);
  BOOST_TEST(clock.zero_time() == 12'400);
  BOOST_TEST(clock.delay_to_next_close(12'345) == 155);
  auto [t0, k0] = clock.close_next();
  BOOST_TEST(t0 == 12'500);
  BOOST_TEST(k0 == 0);
  auto [t1, k1] = clock.close_next();
  BOOST_TEST(t1 == 12'600);
  BOOST_TEST(k1 == 1);
  BOOST_TEST(clock.delay_to_next_close(13'000) == 0);  // overdue: close at once
  clock.restore(1'000, 7);  // a checkpoint's origin and next batch
  BOOST_TEST(clock.close_next().first == 1'800);
}

// Map-ahead's slot boundaries cover all of the open interval, the job's
// longer first one included, each slot at most interval/slots long: the
// oracle is a walk back from the close in steps of interval/slots.
BOOST_AUTO_TEST_CASE(slot_boundaries_cover_the_whole_open_interval) {
  BatchClock clock(100);
  clock.start(12'345);  // the first interval closes 155 ms on
  for (int slots : {2, 3, 7, 10}) {
    for (int64_t delay : {int64_t{155}, int64_t{100}, int64_t{61}, int64_t{5}, int64_t{0}}) {
      std::vector<int64_t> expected;
      for (int64_t j = 1; delay - 100 * j / slots > 0; ++j) expected.push_back(delay - 100 * j / slots);
      auto got = clock.slot_delays(delay, slots);
      BOOST_TEST(got == expected, "slots " << slots << ", delay " << delay);
      // No slot longer than its share: the first boundary comes within one
      // slot of now, and consecutive ones are a slot apart.
      if (delay > 100 / slots) {
        BOOST_REQUIRE(!got.empty());
        BOOST_TEST(got.back() <= 100 / slots + 1, "slots " << slots << ", delay " << delay);
      }
    }
  }
  BOOST_TEST(clock.slot_delays(155, 10).size() == 15u);  // 150 ms of slots
  BOOST_TEST(clock.slot_delays(155, 1).empty());         // no map-ahead
  BOOST_TEST(clock.slot_delays(155, 0).empty());
}

BOOST_AUTO_TEST_CASE(a_worker_with_another_pipeline_is_refused_without_our_fingerprint) {
  Handles handles;
  WorkerMembership members("ours-0123456789", MembershipPolicy{});
  auto now = steady_clock::now();
  auto refused = members.admit(handles(), "theirs-abcdef", now);
  BOOST_TEST(!refused.worker);
  BOOST_TEST(refused.refusal.find("ours-0123456789") == std::string::npos, refused.refusal);
  BOOST_TEST(!refused.refusal.empty());
  BOOST_TEST(members.pool().size() == 0u);
  auto joined = members.admit(handles(), "ours-0123456789", now);
  BOOST_REQUIRE(joined.worker);
  BOOST_TEST(joined.worker->label == "worker-1");
  BOOST_TEST(members.pool().size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_first_batch_waits_for_min_workers_at_most_the_wait) {
  Handles handles;
  MembershipPolicy policy;
  policy.min_workers = 2;
  policy.min_workers_wait_ms = 1000;
  auto t0 = steady_clock::now();
  {
    WorkerMembership members("g", policy);
    members.start(t0);
    BOOST_TEST(!members.gate_open(t0));
    members.admit(handles(), "g", t0 + 10ms);
    BOOST_TEST(!members.gate_open(t0 + 20ms));
    members.admit(handles(), "g", t0 + 30ms);
    BOOST_TEST(members.gate_open(t0 + 40ms));
  }
  {
    WorkerMembership members("g", policy);
    members.start(t0);
    members.admit(handles(), "g", t0 + 10ms);
    BOOST_TEST(!members.gate_open(t0 + 999ms));
    BOOST_TEST(members.gate_open(t0 + 1001ms));  // waited long enough: start anyway
    BOOST_TEST(members.gate_open(t0 + 1002ms));
  }
}

BOOST_AUTO_TEST_CASE(a_worker_that_answers_no_ping_for_the_timeout_is_lost) {
  Handles handles;
  MembershipPolicy policy;
  policy.worker_timeout_ms = 1000;
  WorkerMembership members("g", policy);
  auto t0 = steady_clock::now();
  auto a = handles(), b = handles();
  members.admit(a, "g", t0);
  members.admit(b, "g", t0);
  auto first = members.check(t0 + 200ms);
  BOOST_TEST(first.ping.size() == 2u);
  BOOST_TEST(first.lost.empty());
  // A ping out is not sent again until answered or failed.
  BOOST_TEST(members.check(t0 + 400ms).ping.empty());
  members.pong(a.address(), t0 + 500ms);
  auto later = members.check(t0 + 1200ms);
  BOOST_REQUIRE(later.lost.size() == 1u);
  BOOST_TEST((later.lost[0].first == b.address()));
  BOOST_TEST(later.lost[0].second.find("no heartbeat") != std::string::npos);
  BOOST_TEST(later.ping.size() == 1u);  // a answered: pinged again
  BOOST_TEST(members.remove(b.address()));
  BOOST_TEST(!members.remove(b.address()));
}

BOOST_AUTO_TEST_CASE(a_checkpoint_is_written_once_every_host_answered_and_retaken_after_a_loss) {
  Handles handles;
  testing::TempDir dir;
  CheckpointCoordinator checkpoints(dir.path);
  Checkpoint base;
  base.graph_fingerprint = "g";
  base.batch_interval_ms = 100;
  base.zero_time_ms = 1000;
  base.next_batch_index = 5;
  base.last_batch_time_ms = 1500;
  base.source_positions = {{0, "42"}};
  auto here = handles(), w1 = handles(), w2 = handles();
  auto first = checkpoints.begin(base, {{here, "coordinator"}, {w1, "worker-1"}, {w2, "worker-2"}});
  BOOST_REQUIRE(first.size() == 3u);
  BOOST_TEST(checkpoints.in_progress());
  BOOST_TEST(first[1].path == dir.path + "/" + state_snapshot_name(1500, "worker-1"));
  HostSnapshot none;
  BOOST_TEST(!checkpoints.snapshot_written(first[0].round, first[0].path, none));
  // worker-2 is lost: the checkpoint starts over without it.
  auto second = checkpoints.retake({{here, "coordinator"}, {w1, "worker-1"}});
  BOOST_REQUIRE(second.size() == 2u);
  BOOST_TEST(!checkpoints.current(first[0].round));
  // A late answer of the abandoned round does not count.
  BOOST_TEST(!checkpoints.snapshot_written(first[1].round, first[1].path, none));
  HostSnapshot held;
  held.nodes = {3, 3};
  held.partitions = {0, 1};
  BOOST_TEST(!checkpoints.snapshot_written(second[1].round, second[1].path, held));
  BOOST_TEST(checkpoints.snapshot_written(second[0].round, second[0].path, none));
  // The state file must exist for the store to accept the checkpoint as intact.
  {
    PartitionStates states{{{3, 0}, "a"}, {{3, 1}, "b"}};
    write_state_snapshot(second[1].path, states);
  }
  Checkpoint written = checkpoints.write();
  BOOST_TEST(!checkpoints.in_progress());
  BOOST_TEST(written.state_files.size() == 2u);
  BOOST_TEST(written.state_files.at({3, 1}) == state_snapshot_name(1500, "worker-1"));
  auto loaded = CheckpointStore(dir.path).load_latest();
  BOOST_REQUIRE(loaded.has_value());
  BOOST_TEST(loaded->next_batch_index == 5);
  BOOST_TEST(loaded->source_positions.at(0) == "42");
  BOOST_TEST(loaded->partition_states.at({3, 1}) == "b");
}

BOOST_AUTO_TEST_CASE(a_checkpoint_pauses_new_batches_until_it_is_written) {
  JobLifecycle job;
  BOOST_TEST(job.batches_may_start());
  BOOST_TEST(job.describe() == std::string("running"));
  job.checkpoint_started();
  BOOST_TEST(!job.batches_may_start());
  BOOST_TEST(job.describe() == std::string("checkpointing"));
  BOOST_TEST((job.tick(3) == JobLifecycle::Tick::close));  // intervals still close: batches form
  job.checkpoint_written();
  BOOST_TEST(job.batches_may_start());
}

BOOST_AUTO_TEST_CASE(a_graceful_stop_drains_only_after_the_final_interval_and_the_checkpoint) {
  JobLifecycle job;
  job.checkpoint_started();
  BOOST_TEST(job.begin_stop());
  BOOST_TEST(!job.begin_stop());  // once
  BOOST_TEST(job.describe() == std::string("checkpointing"));
  BOOST_TEST((job.tick(5) == JobLifecycle::Tick::ignore));  // no interval closes while stopping
  BOOST_TEST(!job.will_close(5));
  BOOST_TEST(!job.drained(0, 0));  // receivers not stopped yet
  job.final_interval_closed();
  BOOST_TEST(!job.drained(0, 0));  // the checkpoint is not written yet
  job.checkpoint_written();
  BOOST_TEST(job.describe() == std::string("stopping"));
  BOOST_TEST(!job.drained(1, 0));  // a batch still forming
  BOOST_TEST(!job.drained(0, 2));  // batches in flight
  BOOST_TEST(job.drained(0, 0));
}

BOOST_AUTO_TEST_CASE(stop_after_n_batches_closes_intervals_0_to_n_minus_1_then_drains) {
  JobLifecycle job(3);
  BOOST_TEST(job.will_close(2));
  BOOST_TEST(!job.will_close(3));  // map-ahead takes no slot for it
  for (int64_t k = 0; k < 3; ++k) BOOST_TEST((job.tick(k) == JobLifecycle::Tick::close));
  BOOST_TEST((job.tick(3) == JobLifecycle::Tick::last_passed));
  BOOST_TEST((job.stop() == JobLifecycle::Stop::closed));  // no final interval for receivers
  BOOST_TEST((job.tick(3) == JobLifecycle::Tick::ignore));
  BOOST_TEST(!job.begin_stop());  // a stop request on top changes nothing
  BOOST_TEST(job.drained(0, 0));
  // A restarted job past its last batch drains at once.
  JobLifecycle restarted(3);
  BOOST_TEST((restarted.tick(7) == JobLifecycle::Tick::last_passed));
}

BOOST_AUTO_TEST_CASE(a_job_finishes_once_and_then_ignores_everything) {
  JobLifecycle job;
  BOOST_TEST(job.finish());
  BOOST_TEST(!job.finish());
  BOOST_TEST(job.finished());
  BOOST_TEST(!job.batches_may_start());
  BOOST_TEST((job.tick(0) == JobLifecycle::Tick::ignore));
  BOOST_TEST(!job.begin_stop());
  job.checkpoint_written();  // a late answer does not revive it
  BOOST_TEST(job.finished());
}

BOOST_AUTO_TEST_CASE(map_tasks_run_on_the_coordinator_while_it_has_a_free_slot_the_rest_on_workers) {
  Handles handles;
  Graph graph;
  graph.add(std::make_shared<Node>())->name = "reduceByKey";
  WorkerPool pool;
  RecordingOutbox outbox;
  caf::actor local = handles();
  auto now = steady_clock::now();
  std::vector<caf::actor_addr> workers;
  auto host_of = [&](std::size_t i) {
    auto h = outbox.sent.at(i).host;
    if (h == local.address()) return std::string("here");
    return std::string(pool.find(h) ? pool.find(h)->label : "a lost worker");
  };

  // No workers: everything runs here, with its outputs.
  TaskDispatcher alone(graph, pool, local, outbox, SpeculationPolicy{}, [](JobEvent) {}, 2);
  for (int i = 0; i < 3; ++i) alone.run(task(Phase::map, i), now);
  alone.run(task(Phase::reduce, 0), now);
  for (std::size_t i = 0; i < 4; ++i) {
    BOOST_TEST(host_of(i) == "here");
    BOOST_TEST(!outbox.sent[i].spec.keep_output);
  }
  outbox.sent.clear();

  for (int i = 0; i < 2; ++i) workers.push_back(pool.add(handles(), now).host.address());
  TaskDispatcher d(graph, pool, local, outbox, SpeculationPolicy{}, [](JobEvent) {}, 2);
  for (int i = 0; i < 3; ++i) d.run(task(Phase::map, i), now);
  d.run(task(Phase::reduce, 0), now);
  d.run(task(Phase::reduce, 1), now);
  // Two map tasks here (their buckets come back with the result); the third
  // and the reduce tasks on the workers in turn (buckets kept there).
  std::vector<std::string> where;
  for (std::size_t i = 0; i < outbox.sent.size(); ++i) where.push_back(host_of(i));
  BOOST_TEST((where == std::vector<std::string>{"here", "here", "worker-1", "worker-2", "worker-1"}));
  BOOST_TEST(!outbox.sent[0].spec.keep_output);
  BOOST_TEST(!outbox.sent[1].spec.keep_output);
  BOOST_TEST(outbox.sent[2].spec.keep_output);

  // A finished local map task frees its slot for the next one.
  d.finished(result_of(outbox.sent[0].spec), now);
  d.run(task(Phase::map, 3), now);
  BOOST_TEST(host_of(5) == "here");
  d.run(task(Phase::map, 4), now);
  BOOST_TEST(host_of(6) == "worker-2");

  // Losing worker 1 runs its tasks (map 2, reduce 1) again; the slots here
  // are taken, so on worker 2. Tasks here are not affected by the loss.
  BOOST_TEST(d.on(workers[0]) == 2u);
  pool.remove(workers[0]);
  BOOST_TEST(d.lose_worker(workers[0], now) == 2u);
  BOOST_TEST(host_of(7) == "worker-2");
  BOOST_TEST(host_of(8) == "worker-2");
  // Both local tasks finish: the next two map tasks run here again.
  d.finished(result_of(outbox.sent[1].spec), now);
  d.finished(result_of(outbox.sent[5].spec), now);
  d.finished(result_of(outbox.sent[5].spec), now);  // a duplicate result frees nothing more
  d.run(task(Phase::map, 5), now);
  d.run(task(Phase::map, 6), now);
  d.run(task(Phase::map, 7), now);
  BOOST_TEST(host_of(9) == "here");
  BOOST_TEST(host_of(10) == "here");
  BOOST_TEST(host_of(11) == "worker-2");

  // Zero slots: with workers, every task goes to them.
  outbox.sent.clear();
  TaskDispatcher none(graph, pool, local, outbox, SpeculationPolicy{}, [](JobEvent) {}, 0);
  for (int i = 0; i < 3; ++i) none.run(task(Phase::map, i), now);
  for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(host_of(i) == "worker-2");
}

namespace {

// Stores `first` numbered lines, then (once `go` is set) `second` more, in
// chunks of 1,000 lines, then ends its input.
class CountingReceiver : public Receiver {
 public:
  CountingReceiver(int first, int second, std::shared_ptr<std::atomic<bool>> go)
      : first_(first), second_(second), go_(std::move(go)) {}
  std::string describe() const override { return "counting"; }
  void run(ReceiverContext& ctx) override {
    store(ctx, 0, first_);
    while (!go_->load() && ctx.wait_for(std::chrono::milliseconds(1))) {
    }
    store(ctx, first_, first_ + second_);
    ctx.end_of_input();
  }

 private:
  static void store(ReceiverContext& ctx, int begin, int end) {
    for (; begin < end; begin += 1000) {
      std::vector<std::string> rows;
      for (int i = begin; i < std::min(end, begin + 1000); ++i) rows.push_back("L" + std::to_string(i));
      ctx.store(std::move(rows));
    }
  }
  int first_, second_;
  std::shared_ptr<std::atomic<bool>> go_;
};

}  // namespace

// What a receiver holds when its input ends, or at an interval's close after
// map-ahead slots, is mapped while the batch waits: it is handed over in a
// partition per core (one per 16,384 lines, up to the job's partitions), not
// as one slot that keeps one core mapping while the others idle. Every line
// comes once, in order. Mid-interval, a slot of fewer than 196,608 lines
// stays one partition.
BOOST_AUTO_TEST_CASE(a_receivers_last_lines_go_to_every_partition) {
  caf::actor_system_config cfg;
  register_message_types(cfg);
  caf::actor_system sys{cfg};
  constexpr int kPartitions = 4, kLast = 100'000;
  for (int first : {0, 30'000}) {
    BOOST_TEST_CONTEXT("lines slotted before the input ends: " << first) {
      auto go = std::make_shared<std::atomic<bool>>(first == 0);
      auto monitor = std::make_shared<JobMonitor>();
      ReceiverOptions options;
      options.slots_on_request = true;
      auto receiver = spawn_receiver(
          sys, 0, [=] { return std::make_unique<CountingReceiver>(first, kLast, go); }, kPartitions, monitor,
          options);
      caf::scoped_actor self{sys};
      std::vector<std::string> got;
      auto take = [&](auto atom) {
        std::vector<std::size_t> sizes;
        self->request(receiver, std::chrono::seconds(30), atom)
            .receive(
                [&](ReceivedBlock& block) {
                  for (const auto& part : block.partitions) {
                    sizes.push_back(part.size());
                    for (const auto& line : part.rows<Text>()) got.emplace_back(line.data(), line.size());
                  }
                },
                [](caf::error& e) { BOOST_FAIL("no block: " << caf::to_string(e)); });
        return sizes;
      };
      if (first > 0) {
        while (monitor->received_records.load() < first) std::this_thread::sleep_for(1ms);
        BOOST_TEST(take(slot_atom::value) == std::vector<std::size_t>{static_cast<std::size_t>(first)});
        go->store(true);
      }
      bool ended = false;
      self->request(receiver, std::chrono::seconds(30), input_end_atom::value)
          .receive([&](input_end_atom) { ended = true; }, [](caf::error&) {});
      BOOST_REQUIRE(ended);
      // With nothing slotted yet, the slot after the end takes the rest;
      // otherwise the interval's close (flush) does.
      auto last = first == 0 ? take(slot_atom::value) : take(flush_atom::value);
      BOOST_TEST(last.size() == static_cast<std::size_t>(kPartitions));
      for (std::size_t size : last) BOOST_TEST(size >= static_cast<std::size_t>(kLast / kPartitions / 2));
      if (first == 0) BOOST_TEST(take(flush_atom::value).empty());
      BOOST_REQUIRE_EQUAL(got.size(), static_cast<std::size_t>(first + kLast));
      for (int i = 0; i < first + kLast; ++i)
        if (got[static_cast<std::size_t>(i)] != "L" + std::to_string(i))
          BOOST_FAIL("line " << i << " is " << got[static_cast<std::size_t>(i)]);
      caf::anon_send_exit(receiver, caf::exit_reason::user_shutdown);
    }
  }
}
