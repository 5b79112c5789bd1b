// The batch executor on its own, with no actors: a fake dispatcher runs its
// tasks (run_task, the code task actors run) in an order the test picks,
// delivers some results twice, loses kept shuffle blocks; the outputs must
// equal a plain computation of the same batches.
#define BOOST_TEST_MODULE batch_executor
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <random>

#include "actors/batch_executor.hpp"
#include "actors/task_actor.hpp"
#include "dstream/core/map_ahead.hpp"
#include "dstream/dstream.hpp"
#include "dstream/nodes.hpp"

using namespace trib;

namespace {

using Counts = std::map<std::string, int64_t>;

std::vector<std::string> words_of_batch(int k, std::mt19937& rng) {
  std::vector<std::string> words;
  std::uniform_int_distribution<int> pick(0, 20);
  for (int i = 0; i < 40 + 13 * k; ++i) words.push_back("w" + std::to_string(pick(rng)));
  return words;
}

// A job graph built with the DStream API, the way a StreamingContext builds it.
struct Job {
  std::shared_ptr<JobBuilder> job = std::make_shared<JobBuilder>();
  int source = -1;
  std::map<int64_t, Counts> counts;  // reduceByKey output per batch
  std::map<int64_t, Counts> totals;  // updateStateByKey output per batch

  Job() {
    job->graph.batch_interval_ms = 100;
    auto src = job->add(std::make_shared<PolledSourceNode>("queueStream", [](int64_t) { return Dataset{}; }));
    job->graph.sources.push_back(src->id);
    source = src->id;
    auto pairs = detail::of_node<std::string>(job, src).map(
        [](const std::string& w) { return std::pair<std::string, int64_t>(w, 1); });
    pairs.reduceByKey(std::plus<int64_t>(), 3).foreachRDD([this](auto& rows, int64_t t) {
      for (auto& [w, n] : rows) counts[t][w] += n;
    });
    pairs
        .updateStateByKey(
            [](const std::vector<int64_t>& fresh, const std::optional<int64_t>& total) {
              int64_t sum = total.value_or(0);
              for (auto n : fresh) sum += n;
              return std::optional<int64_t>(sum);
            },
            2)
        .foreachRDD([this](auto& rows, int64_t t) {
          for (auto& [w, n] : rows) totals[t][w] = n;
        });
  }
  std::shared_ptr<const Graph> graph() const { return {job, &job->graph}; }
};

// Runs the executor's tasks the way the test says: in order, reversed or
// shuffled, with or without duplicate results.
class FakeDispatcher : public ExecutorListener {
 public:
  enum class Order { fifo, lifo, shuffled };
  FakeDispatcher(std::shared_ptr<const Graph> graph, Order order, bool duplicates)
      : graph_(std::move(graph)), order_(order), duplicates_(duplicates) {}

  BatchExecutor* executor = nullptr;
  caf::actor keeper;  // set: map outputs are reported as kept on it
  std::vector<int64_t> completed;
  std::vector<std::string> failures;
  std::map<int64_t, std::size_t> outputs_expected;

  void task_ready(TaskSpec spec, bool holds_state) override {
    // Only a stateful node's reduce tasks need their partition's state.
    bool reduce = spec.id.phase == Phase::reduce;
    BOOST_TEST(holds_state == (reduce && graph_->nodes[spec.id.node]->stateful()));
    queue_.push_back(std::move(spec));
  }
  void output_ready(int64_t time, int32_t node, Dataset data) override {
    static_cast<OutputNode&>(*graph_->nodes[node]).emit(time, data);
    if (--outputs_expected.at(time) == 0) executor->batch_emitted(time, steady::now());
  }
  void batch_completed(const CompletedBatch& b) override {
    completed.push_back(b.info.batch_time_ms);
    executor->start_ready(steady::now());  // a slot is free, as the coordinator does
  }
  void failed(const std::string& why) override { failures.push_back(why); }

  // Runs queued tasks (and those they make ready) until none is left, or
  // `limit` ran.
  void pump(std::size_t limit = SIZE_MAX) {
    for (std::size_t ran = 0; ran < limit && !queue_.empty(); ++ran) {
      std::size_t at = 0;
      if (order_ == Order::lifo) at = queue_.size() - 1;
      if (order_ == Order::shuffled) at = std::uniform_int_distribution<std::size_t>(0, queue_.size() - 1)(rng_);
      TaskSpec spec = std::move(queue_[at]);
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(at));
      TaskResult res = run(spec);
      if (duplicates_ && !graph_->nodes[spec.id.node]->stateful()) {
        TaskResult copy = res;
        executor->task_finished(copy, {}, steady::now());
      }
      // A map task's buckets said to stay on `keeper` (a worker), as if
      // kept there; `res.outputs` still holds them, unused.
      bool kept = keeper && spec.id.phase == Phase::map;
      executor->task_finished(res, kept ? keeper : caf::actor{}, steady::now());
    }
  }

 private:
  TaskResult run(TaskSpec& spec) {
    const Node& n = *graph_->nodes[spec.id.node];
    PartitionState* state = nullptr;
    if (n.stateful() && spec.id.phase == Phase::reduce) {
      auto& s = states_[{spec.id.node, spec.id.index}];
      if (!s) s = n.make_state(spec.id.index);
      state = s.get();
    }
    return run_task(*graph_, spec, state);
  }

  std::shared_ptr<const Graph> graph_;
  Order order_;
  bool duplicates_;
  std::deque<TaskSpec> queue_;
  std::map<std::pair<int, int>, std::unique_ptr<PartitionState>> states_;
  std::mt19937 rng_{7};
};

FormedBatch batch(const Job& job, int k, std::vector<std::string> words) {
  FormedBatch b;
  b.index = k;
  b.time = (k + 1) * 100;
  b.records = static_cast<int64_t>(words.size());
  b.interval_end = steady::now();
  b.source_data[job.source] = split_into_partitions(std::move(words), 4);
  return b;
}

// `slots_ahead` > 0: the first words of each batch come in that many slots
// before it forms (map-ahead), some mapped before it forms, some after.
void run_job(FakeDispatcher::Order order, bool duplicates, int concurrent, int slots_ahead = 0) {
  Job job;
  FakeDispatcher fake(job.graph(), order, duplicates);
  BatchExecutor executor(job.graph(), concurrent, fake);
  fake.executor = &executor;
  if (slots_ahead > 0) BOOST_REQUIRE(executor.maps_ahead(job.source));
  std::mt19937 rng(42);
  std::map<int64_t, Counts> expected_counts, expected_totals;
  Counts running;
  const int batches = 6;
  for (int k = 0; k < batches; ++k) {
    auto words = words_of_batch(k, rng);
    int64_t t = (k + 1) * 100;
    for (auto& w : words) ++expected_counts[t][w], ++running[w];
    expected_totals[t] = running;
    std::size_t per_slot = words.size() / static_cast<std::size_t>(slots_ahead + 1);
    for (int j = 0; j < slots_ahead; ++j) {
      // Every other slot comes in two partitions, as a big one does.
      auto half = static_cast<std::ptrdiff_t>(j % 2 == 1 ? per_slot / 2 : per_slot);
      auto end = static_cast<std::ptrdiff_t>(per_slot);
      Dataset slot;
      slot.push_back(Partition::of(std::vector<std::string>(words.begin(), words.begin() + half)));
      if (half < end) slot.push_back(Partition::of(std::vector<std::string>(words.begin() + half, words.begin() + end)));
      words.erase(words.begin(), words.begin() + end);
      executor.add_slot(t, k, job.source, std::move(slot), slots_ahead + 1);
      fake.pump(static_cast<std::size_t>(j));
    }
    auto outputs = executor.add(batch(job, k, words));
    BOOST_TEST(outputs.size() == 2u);
    fake.outputs_expected[t] = outputs.size();
    // Two batches formed before either runs: ordered nodes must still see
    // them in time order.
    if (k % 2 == 1) {
      executor.start_ready(steady::now());
      fake.pump();
    }
  }
  BOOST_TEST(fake.failures.empty());
  BOOST_TEST(executor.batches() == 0u);
  std::vector<int64_t> times;
  for (int k = 0; k < batches; ++k) times.push_back((k + 1) * 100);
  auto completed = fake.completed;
  std::sort(completed.begin(), completed.end());
  BOOST_TEST(completed == times, boost::test_tools::per_element());
  BOOST_TEST(job.counts == expected_counts);
  BOOST_TEST(job.totals == expected_totals);
}

}  // namespace

namespace std {
ostream& operator<<(ostream& os, const map<int64_t, Counts>& m) { return os << m.size() << " batches"; }
}  // namespace std

BOOST_AUTO_TEST_CASE(runs_every_batch_like_a_plain_computation) {
  run_job(FakeDispatcher::Order::fifo, false, 1);
}

BOOST_AUTO_TEST_CASE(tasks_finishing_in_any_order_give_the_same_result) {
  run_job(FakeDispatcher::Order::lifo, false, 1);
  run_job(FakeDispatcher::Order::shuffled, false, 2);
}

BOOST_AUTO_TEST_CASE(a_task_reported_twice_counts_once) {
  run_job(FakeDispatcher::Order::shuffled, true, 2);
}

BOOST_AUTO_TEST_CASE(slots_mapped_ahead_give_the_same_result) {
  run_job(FakeDispatcher::Order::fifo, false, 1, 3);
  run_job(FakeDispatcher::Order::shuffled, true, 2, 3);
  run_job(FakeDispatcher::Order::lifo, false, 2, 1);
}

BOOST_AUTO_TEST_CASE(a_slot_mapped_ahead_lets_go_of_its_input_once_every_reader_mapped_it) {
  Job job;
  FakeDispatcher fake(job.graph(), FakeDispatcher::Order::fifo, false);
  BatchExecutor executor(job.graph(), 1, fake);
  fake.executor = &executor;
  auto bytes = std::make_shared<int>(0);  // stands for the slot's read buffers
  std::weak_ptr<int> watch = bytes;
  Partition slot = Partition::of(std::vector<std::string>{"a", "b", "a"});
  slot.pin(std::move(bytes));
  executor.add_slot(100, 0, job.source, Dataset{std::move(slot)}, 2);
  BOOST_TEST(!watch.expired());
  fake.pump(1);  // one of its two readers mapped it
  BOOST_TEST(!watch.expired());
  fake.pump();
  BOOST_TEST(watch.expired());  // not held until the batch ends
  BOOST_TEST(executor.batches() == 0u);  // not formed yet
  fake.outputs_expected[100] = executor.add(batch(job, 0, {"b", "c"})).size();
  executor.start_ready(steady::now());
  fake.pump();
  BOOST_TEST(fake.failures.empty());
  BOOST_TEST((job.counts[100] == Counts{{"a", 2}, {"b", 2}, {"c", 1}}));
  BOOST_TEST((job.totals[100] == Counts{{"a", 2}, {"b", 2}, {"c", 1}}));
}

// Slots mapped ahead on a worker, which is lost before their batch forms:
// the batch maps them again when it starts, from the input it kept for that.
BOOST_AUTO_TEST_CASE(slots_mapped_ahead_on_a_lost_worker_are_mapped_again) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::actor worker = sys.spawn([] { return caf::behavior{[](int) {}}; });
  Job job;
  FakeDispatcher fake(job.graph(), FakeDispatcher::Order::fifo, false);
  BatchExecutor executor(job.graph(), 1, fake);
  fake.executor = &executor;
  fake.keeper = worker;
  executor.add_slot(100, 0, job.source, Dataset{Partition::of(std::vector<std::string>{"a", "b", "a"})}, 3);
  executor.add_slot(100, 0, job.source, Dataset{Partition::of(std::vector<std::string>{"c"})}, 3);
  fake.pump();
  executor.lose_kept_outputs(worker.address());
  fake.keeper = caf::actor{};
  fake.outputs_expected[100] = executor.add(batch(job, 0, {"b"})).size();
  executor.start_ready(steady::now());
  fake.pump();
  BOOST_TEST(fake.failures.empty());
  BOOST_TEST(fake.completed.size() == 1u);
  BOOST_TEST((job.counts[100] == Counts{{"a", 2}, {"b", 2}, {"c", 1}}));
  BOOST_TEST((job.totals[100] == Counts{{"a", 2}, {"b", 2}, {"c", 1}}));
  caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
}

// An executor listener that ignores everything: for what the executor
// decides before any batch runs.
struct QuietListener : ExecutorListener {
  void task_ready(TaskSpec, bool) override {}
  void output_ready(int64_t, int32_t, Dataset) override {}
  void batch_completed(const CompletedBatch&) override {}
  void failed(const std::string&) override {}
};

// A word count over a queueStream of words, built straight on the job.
struct QueueWordCount {
  std::shared_ptr<JobBuilder> job = std::make_shared<JobBuilder>();
  NodePtr src;
  DStream<std::string> words;
  QueueWordCount()
      : src(add_source(*job)), words(detail::of_node<std::string>(job, src)) {
    words.map([](const std::string& w) { return std::pair<std::string, int64_t>(w, 1); })
        .reduceByKey(std::plus<int64_t>())
        .foreachRDD([](auto&, int64_t) {});
  }
  std::shared_ptr<const Graph> graph() const { return {job, &job->graph}; }

 private:
  static NodePtr add_source(JobBuilder& job) {
    job.graph.batch_interval_ms = 100;
    auto src = job.add(std::make_shared<PolledSourceNode>("queueStream", [](int64_t) { return Dataset{}; }));
    job.graph.sources.push_back(src->id);
    return src;
  }
};

BOOST_AUTO_TEST_CASE(a_source_read_by_a_narrow_chain_is_not_mapped_ahead) {
  // print() of the source's own records sees its partitions: they must be
  // cut as the interval closes, not by slot.
  QueueWordCount job;
  auto& src = job.src;
  auto& words = job.words;
  auto g = job.graph();
  QuietListener quiet;
  BOOST_TEST(BatchExecutor(g, 1, quiet).maps_ahead(src->id));
  words.foreachRDD([](auto&, int64_t) {});
  BOOST_TEST(!BatchExecutor(g, 1, quiet).maps_ahead(src->id));
}

// Map-ahead pays while combining shrinks a slot. The executor judges from
// what the reduceByKey edge's own tables took in and kept, once they took
// in kJudgeAfterRecords in tasks of at least CombineStats::kSmallestCounted
// records: off where fewer than kMinRecordsPerKey records share a key
// (every record a key of its own, or 1 key in 10), on where a vocabulary
// repeats; and never judged from small tasks, which a slow stream makes.
BOOST_AUTO_TEST_CASE(map_ahead_stops_paying_where_the_combine_keeps_too_many_keys) {
  struct Case {
    int64_t vocabulary, task_records;
    bool pays;
  };
  const int64_t big = static_cast<int64_t>(CombineStats::kSmallestCounted) + 1000;
  const int64_t small = static_cast<int64_t>(CombineStats::kSmallestCounted) - 1000;
  for (Case c : {Case{int64_t{1} << 40, big, false}, Case{big / 10, big, false}, Case{1000, big, true},
                 Case{big / 40, big, true}, Case{int64_t{1} << 40, small, true}}) {
    QueueWordCount job;
    auto& src = job.src;
    auto g = job.graph();
    QuietListener quiet;
    BatchExecutor executor(g, 1, quiet);
    const Edge* combine = nullptr;
    for (auto& n : g->nodes)
      if (n->reduce_partitions() > 0 && n->edges.at(0).parent->id == src->id) combine = &n->edges.at(0);
    BOOST_REQUIRE(combine);
    BOOST_REQUIRE(combine->combine);
    // Map tasks of task_records records each, as slots would bring them.
    int64_t merged = 0, keys_kept = 0;
    for (int64_t task = 0; merged < 2 * static_cast<int64_t>(kJudgeAfterRecords); ++task) {
      if (merged < static_cast<int64_t>(kJudgeAfterRecords))
        BOOST_TEST(executor.map_ahead_pays(src->id), "too few records to judge: " << merged);
      std::vector<std::string> words;
      for (int64_t i = task * c.task_records; i < (task + 1) * c.task_records; ++i)
        words.push_back("w" + std::to_string(i % c.vocabulary));
      auto buckets = combine->fn(Partition::of(std::move(words)), TaskContext{});
      merged += c.task_records;
      std::size_t keys = 0;
      for (auto& b : buckets) keys += b.size();
      BOOST_TEST(keys == static_cast<std::size_t>(std::min(c.vocabulary, c.task_records)));
      keys_kept += static_cast<int64_t>(keys);
    }
    // Counted: every task, or none.
    bool counted = c.task_records >= static_cast<int64_t>(CombineStats::kSmallestCounted);
    BOOST_TEST(combine->combine->records.load() == static_cast<uint64_t>(counted ? merged : 0));
    BOOST_TEST(combine->combine->keys.load() == static_cast<uint64_t>(counted ? keys_kept : 0));
    BOOST_TEST(executor.map_ahead_pays(src->id) == c.pays,
               "vocabulary " << c.vocabulary << ", tasks of " << c.task_records << " records");
    if (counted)  // the ratio the coordinator logs when it stops the slots
      BOOST_TEST(executor.ahead_records_per_key(src->id) ==
                     static_cast<double>(merged) / static_cast<double>(keys_kept),
                 boost::test_tools::tolerance(1e-9));
  }
}

BOOST_AUTO_TEST_CASE(a_failed_task_fails_the_job_naming_the_operator) {
  Job job;
  FakeDispatcher fake(job.graph(), FakeDispatcher::Order::fifo, false);
  struct Failing : ExecutorListener {
    std::vector<TaskSpec> tasks;
    std::vector<std::string> failures;
    void task_ready(TaskSpec spec, bool) override { tasks.push_back(std::move(spec)); }
    void output_ready(int64_t, int32_t, Dataset) override {}
    void batch_completed(const CompletedBatch&) override {}
    void failed(const std::string& why) override { failures.push_back(why); }
  } failing;
  BatchExecutor executor(job.graph(), 1, failing);
  std::mt19937 rng(1);
  executor.add(batch(job, 0, words_of_batch(0, rng)));
  executor.start_ready(steady::now());
  BOOST_REQUIRE(!failing.tasks.empty());
  TaskResult res = result_for(failing.tasks.front());
  res.error = "boom";
  executor.task_finished(res, {}, steady::now());
  BOOST_REQUIRE(failing.failures.size() == 1u);
  BOOST_TEST(failing.failures[0].find("boom") != std::string::npos, failing.failures[0]);
  BOOST_TEST(failing.failures[0].find("reduceByKey") != std::string::npos, failing.failures[0]);
}
