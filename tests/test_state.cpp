// updateStateByKey and mapWithState, batch by batch, against plain loops that
// keep the same state in a std::map. Inputs are random (several seeds,
// partition counts and batch intervals), include empty batches, and end with
// empty batches so that the state's behaviour after the last record is seen.
#define BOOST_TEST_MODULE state
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <tuple>

#include "job_helpers.hpp"
#include "oracle.hpp"

using Word = std::string;
using KV = std::pair<std::string, int>;
using Count = std::pair<std::string, int64_t>;

namespace {

struct Config {
  unsigned seed;
  int partitions;
  int interval_ms;
  int concurrent_batches;
};

std::ostream& operator<<(std::ostream& os, const Config& c) {
  return os << "seed=" << c.seed << " partitions=" << c.partitions
            << " interval=" << c.interval_ms << "ms concurrent=" << c.concurrent_batches;
}

const std::vector<Config> kConfigs = {
    {1, 1, 20, 1}, {2, 3, 20, 1}, {3, 4, 50, 1}, {4, 2, 10, 3}, {5, 7, 30, 1},
};

std::unique_ptr<trib::StreamingContext> make_context(const Config& cfg) {
  trib::StreamingOptions opts;
  opts.partitions = cfg.partitions;
  opts.max_concurrent_batches = cfg.concurrent_batches;
  if (cfg.concurrent_batches > 1) opts.worker_threads = 4;
  return std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(cfg.interval_ms),
                                                  opts);
}

// Batches of (key, value) records over a small set of keys; every fourth
// batch is empty, and `trailing` empty batches close the input. `presence`
// is the chance that a key appears in a batch at all, so keys go idle.
std::vector<std::vector<KV>> random_batches(unsigned seed, int count, int trailing,
                                            double presence) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> coin(0, 1);
  std::uniform_int_distribution<int> repeats(1, 4), value(0, 9);
  std::vector<std::vector<KV>> batches;
  for (int b = 0; b < count; ++b) {
    std::vector<KV> rows;
    if (b % 4 != 2)
      for (int k = 0; k < 10; ++k)
        if (coin(rng) < presence)
          for (int r = repeats(rng); r > 0; --r) rows.emplace_back("k" + std::to_string(k), value(rng));
    std::shuffle(rows.begin(), rows.end(), rng);
    batches.push_back(rows);
  }
  for (int b = 0; b < trailing; ++b) batches.emplace_back();
  return batches;
}

template <class T>
std::shared_ptr<trib::BatchQueue<T>> queue_of(const std::vector<std::vector<T>>& batches) {
  auto q = std::make_shared<trib::BatchQueue<T>>();
  for (auto& b : batches) q->push(b);
  return q;
}

// Per batch (by index), per key, the values in the order they were seen.
using PerKey = std::map<std::string, std::vector<int64_t>>;

template <class V>
PerKey by_key(const std::vector<std::pair<std::string, V>>& rows) {
  PerKey m;
  for (auto& [k, v] : rows) m[k].push_back(v);
  return m;
}

// Checks that the output has consecutive batch times and at least n batches.
template <class T>
void require_batches(const std::vector<std::pair<int64_t, std::vector<T>>>& got, std::size_t n,
                     int interval_ms) {
  BOOST_REQUIRE_GE(got.size(), n);
  for (std::size_t i = 1; i < got.size(); ++i)
    BOOST_REQUIRE_EQUAL(got[i].first - got[i - 1].first, interval_ms);
}

}  // namespace

BOOST_DATA_TEST_CASE(update_state_by_key_keeps_running_totals,
                     boost::unit_test::data::make(kConfigs), cfg) {
  // Words as records: running word count, as the running_word_count app.
  auto kv_batches = random_batches(cfg.seed, 12, 3, 0.4);
  std::vector<std::vector<Word>> inputs;
  for (auto& b : kv_batches) {
    std::vector<Word> words;
    for (auto& [k, v] : b) words.push_back(k + (v % 3 == 0 ? "x" : ""));
    inputs.push_back(words);
  }
  auto ssc = make_context(cfg);
  auto pairs = ssc->queueStream(queue_of(inputs)).map([](const Word& w) { return Count(w, 1); });

  auto totals = testing::collect(pairs.updateStateByKey(
      [](const std::vector<int64_t>& fresh, const std::optional<int64_t>& total) {
        int64_t sum = total.value_or(0);
        for (auto n : fresh) sum += n;
        return std::optional<int64_t>(sum);
      }));

  // (total, batches idle): removed after two idle batches, or when the total
  // passes 12 (the next record starts it again).
  using Idle = std::pair<int64_t, int>;
  auto limit = [](const std::vector<int64_t>& fresh,
                  const std::optional<Idle>& state) -> std::optional<Idle> {
    Idle s = state.value_or(Idle(0, 0));
    if (fresh.empty()) {
      if (!state) throw std::logic_error("called with neither new values nor state");
      if (++s.second >= 2) return std::nullopt;
      return s;
    }
    for (auto n : fresh) s.first += n;
    s.second = 0;
    if (s.first > 12) return std::nullopt;
    return s;
  };
  auto calls = std::make_shared<std::atomic<int64_t>>(0);
  auto limited_update = [calls, limit](const std::vector<int64_t>& fresh,
                                       const std::optional<Idle>& state) {
    ++*calls;
    return limit(fresh, state);
  };
  auto limited = testing::collect(pairs.updateStateByKey(limited_update, 3));

  testing::run_batches(*ssc, inputs.size());

  std::map<Word, int64_t> running;
  std::map<Word, Idle> limited_state;
  int64_t expected_calls = 0;
  auto got_totals = totals->get(), got_limited = limited->get();
  require_batches(got_totals, inputs.size(), cfg.interval_ms);
  require_batches(got_limited, inputs.size(), cfg.interval_ms);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::map<Word, std::vector<int64_t>> fresh;
    for (auto& w : inputs[i]) {
      ++running[w];
      fresh[w].push_back(1);
    }
    std::map<Word, Idle> next;
    for (auto& [w, s] : limited_state)
      if (!fresh.count(w)) {
        ++expected_calls;
        if (auto r = limit({}, s)) next[w] = *r;
      }
    for (auto& [w, values] : fresh) {
      ++expected_calls;
      auto it = limited_state.find(w);
      auto r = limit(values, it == limited_state.end() ? std::nullopt
                                                       : std::optional<Idle>(it->second));
      if (r) next[w] = *r;
    }
    limited_state = next;

    BOOST_TEST_CONTEXT("batch " << i) {
      BOOST_TEST((oracle::as_map(got_totals[i].second) == running));
      BOOST_TEST(got_totals[i].second.size() == running.size(), "each key once");
      BOOST_TEST((oracle::as_map(got_limited[i].second) == limited_state));
      BOOST_TEST(got_limited[i].second.size() == limited_state.size(), "each key once");
    }
  }
  // After the input, the totals stay; the limited state has emptied itself.
  for (std::size_t i = inputs.size(); i < got_totals.size(); ++i)
    BOOST_TEST((oracle::as_map(got_totals[i].second) == running), "batch " << i);
  BOOST_TEST(limited_state.empty(), "the trailing empty batches should remove every key");
  // Each batch called the update exactly once per key with new values or
  // state: the state was kept, not rebuilt from earlier batches.
  BOOST_TEST(*calls == expected_calls);
}

// Spark's updateStateByKey(func, partitioner, initialRDD): initial keys are
// updated from the first batch on, with or without new values.
BOOST_DATA_TEST_CASE(update_state_by_key_starts_from_initial_state,
                     boost::unit_test::data::make(kConfigs), cfg) {
  auto inputs = random_batches(cfg.seed + 300, 10, 2, 0.4);
  std::mt19937 rng(cfg.seed);
  std::vector<Count> initial;
  for (int k = 0; k < 14; k += 1 + static_cast<int>(rng() % 3))
    initial.emplace_back("k" + std::to_string(k), static_cast<int64_t>(rng() % 50));
  initial.emplace_back("k3", 1000);  // listed twice: the later one counts
  // Sum of values; a key without new values loses 1 per batch, removed at <= 0.
  auto update = [](const std::vector<int>& fresh, const std::optional<int64_t>& s) -> std::optional<int64_t> {
    int64_t v = s.value_or(0);
    for (int x : fresh) v += x;
    if (fresh.empty() && --v <= 0) return std::nullopt;
    return v;
  };
  auto ssc = make_context(cfg);
  auto out = testing::collect(ssc->queueStream(queue_of(inputs)).updateStateByKey(update, 0, initial));
  testing::run_batches(*ssc, inputs.size());

  std::map<std::string, int64_t> state;
  for (auto& [k, v] : initial) state[k] = v;
  auto got = out->get();
  require_batches(got, inputs.size(), cfg.interval_ms);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::map<std::string, std::vector<int>> fresh;
    for (auto& [k, v] : inputs[i]) fresh[k].push_back(v);
    std::map<std::string, int64_t> next;
    for (auto& [k, v] : state)
      if (!fresh.count(k))
        if (auto r = update({}, v)) next[k] = *r;
    for (auto& [k, values] : fresh) {
      auto it = state.find(k);
      if (auto r = update(values, it == state.end() ? std::nullopt : std::optional<int64_t>(it->second)))
        next[k] = *r;
    }
    state = next;
    BOOST_TEST((oracle::as_map(got[i].second) == state), "batch " << i);
    BOOST_TEST(got[i].second.size() == state.size(), "each key once, batch " << i);
  }
}

namespace {

// One call of mapWithState's function, as the function saw it.
struct Call {
  int64_t batch_time;
  std::string key;
  std::optional<int> value;
  std::optional<int64_t> state_before;
  bool timing_out;
  bool update_refused;  // update() threw (only ever tried when timing out)
};

// What the function saw, per batch index, per key in call order.
using CallView = std::tuple<std::optional<int>, std::optional<int64_t>, bool, bool>;
using CallsByKey = std::map<std::string, std::vector<CallView>>;

struct CallLog {
  std::mutex mutex;
  std::vector<Call> calls;
  std::atomic<bool> state_api_broken{false};
  void add(Call c) {
    std::lock_guard<std::mutex> lock(mutex);
    calls.push_back(std::move(c));
  }
  std::map<int64_t, CallsByKey> by_batch(int64_t first_batch_time, int interval_ms) {
    std::lock_guard<std::mutex> lock(mutex);
    std::map<int64_t, CallsByKey> out;
    for (auto& c : calls)
      out[(c.batch_time - first_batch_time) / interval_ms][c.key].emplace_back(
          c.value, c.state_before, c.timing_out, c.update_refused);
    return out;
  }
};

// The function both mapWithState tests use: a running sum per key, emitted
// as (key, sum); a 0 removes the key and a 9 leaves the state untouched,
// both emitting nothing; a timing-out key emits (key, -1). It checks the
// State API's refusals as it goes.
auto summing_function(std::shared_ptr<CallLog> log) {
  return [log](int64_t t, const std::string& key, const std::optional<int>& value,
               trib::State<int64_t>& state) -> std::optional<Count> {
    Call call{t, key, value, state.getOption(), state.isTimingOut(), false};
    if (!state.exists()) {
      try {
        state.get();
        log->state_api_broken = true;
      } catch (const std::out_of_range&) {
      }
    }
    if (state.isTimingOut()) {
      if (!value && state.exists()) {
        try {
          state.update(0);
        } catch (const std::logic_error&) {
          call.update_refused = true;
        }
      } else {
        log->state_api_broken = true;
      }
      log->add(call);
      return Count(key, -1);
    }
    log->add(call);
    if (!value) log->state_api_broken = true;  // only timing-out calls lack a value
    if (*value == 0) {
      if (state.exists()) {
        state.remove();
        try {
          state.update(1);
          log->state_api_broken = true;
        } catch (const std::logic_error&) {
        }
      }
      return std::nullopt;
    }
    if (*value == 9) return std::nullopt;  // leaves the state as it is
    int64_t sum = state.exists() ? state.get() + *value : *value;
    state.update(sum);
    return Count(key, sum);
  };
}

// The same semantics as a plain loop over batch indexes. `timeout_batches`:
// a key times out in batch k if k - (last batch with a record) > it; 0: never.
struct MapWithStateOracle {
  struct Entry {
    int64_t sum;
    int64_t last;
  };
  std::map<std::string, Entry> state;
  int64_t timeout_batches = 0;

  // Runs batch k; fills what the function was called with and what it emitted.
  void run(int64_t k, const std::vector<KV>& rows, CallsByKey& calls, PerKey& mapped) {
    for (auto& [key, v] : rows) {
      auto it = state.find(key);
      std::optional<int64_t> before;
      if (it != state.end()) before = it->second.sum;
      calls[key].emplace_back(v, before, false, false);
      if (v == 0) {
        if (it != state.end()) state.erase(it);
        continue;
      }
      if (v == 9) {
        // A record keeps the key alive even when the state is not updated.
        if (it != state.end()) it->second.last = k;
        continue;
      }
      int64_t sum = before.value_or(0) + v;
      state[key] = {sum, k};
      mapped[key].push_back(sum);
    }
    if (timeout_batches == 0) return;
    for (auto it = state.begin(); it != state.end();) {
      if (k - it->second.last <= timeout_batches) {
        ++it;
        continue;
      }
      calls[it->first].emplace_back(std::nullopt, it->second.sum, true, true);
      mapped[it->first].push_back(-1);
      it = state.erase(it);
    }
  }

  std::map<std::string, int64_t> snapshot() const {
    std::map<std::string, int64_t> m;
    for (auto& [k, e] : state) m[k] = e.sum;
    return m;
  }
};

std::vector<Count> random_initial_state(unsigned seed) {
  std::mt19937 rng(seed * 7 + 1);
  std::vector<Count> initial;
  for (int k = 0; k < 10; ++k)
    if (rng() % 3 == 0) initial.emplace_back("k" + std::to_string(k), rng() % 50);
  // Keys that never get a record, and a duplicate (the later one wins).
  initial.emplace_back("only-initial", 5);
  initial.emplace_back("twice", 1);
  initial.emplace_back("twice", 2);
  return initial;
}

// Runs mapWithState over `inputs` and checks every batch's calls, emitted
// values and state snapshots against the oracle.
void check_map_with_state(const Config& cfg, const std::vector<std::vector<KV>>& inputs,
                          int timeout_batches) {
  auto ssc = make_context(cfg);
  auto log = std::make_shared<CallLog>();
  auto initial = random_initial_state(cfg.seed);
  auto spec = trib::StateSpec::function(summing_function(log))
                  .initialState(initial)
                  .numPartitions(cfg.partitions % 3 + 1);
  if (timeout_batches > 0)
    spec = spec.timeout(std::chrono::milliseconds(timeout_batches * cfg.interval_ms));
  auto stream = ssc->queueStream(queue_of(inputs)).mapWithState(spec);
  auto mapped = testing::collect(stream);
  auto snapshots = testing::collect(stream.stateSnapshots());

  testing::run_batches(*ssc, inputs.size());

  auto got_mapped = mapped->get(), got_snapshots = snapshots->get();
  require_batches(got_mapped, inputs.size(), cfg.interval_ms);
  require_batches(got_snapshots, inputs.size(), cfg.interval_ms);
  BOOST_REQUIRE_EQUAL(got_mapped[0].first, got_snapshots[0].first);
  auto calls = log->by_batch(got_mapped[0].first, cfg.interval_ms);
  BOOST_TEST(!log->state_api_broken, "State accepted a call it should refuse");

  MapWithStateOracle want;
  want.timeout_batches = timeout_batches;
  for (auto& [k, s] : initial) want.state[k] = {s, 0};
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    CallsByKey want_calls;
    PerKey want_mapped;
    want.run(static_cast<int64_t>(i), inputs[i], want_calls, want_mapped);
    BOOST_TEST_CONTEXT("batch " << i) {
      BOOST_TEST((calls[static_cast<int64_t>(i)] == want_calls), "calls of the function");
      BOOST_TEST((by_key(got_mapped[i].second) == want_mapped), "emitted values");
      BOOST_TEST((oracle::as_map(got_snapshots[i].second) == want.snapshot()), "snapshot");
      BOOST_TEST(got_snapshots[i].second.size() == want.state.size(), "each key once");
    }
  }
  // No call in any batch after the input, and (with a timeout) none left.
  for (auto& batch : calls)
    BOOST_TEST(batch.first < static_cast<int64_t>(inputs.size()), "a call in batch " << batch.first);
  if (timeout_batches > 0) BOOST_TEST(want.state.empty(), "every key should have timed out");
}

}  // namespace

BOOST_DATA_TEST_CASE(map_with_state_matches_a_plain_loop, boost::unit_test::data::make(kConfigs),
                     cfg) {
  check_map_with_state(cfg, random_batches(cfg.seed + 100, 12, 2, 0.5), 0);
}

BOOST_DATA_TEST_CASE(map_with_state_times_out_idle_keys_once,
                     boost::unit_test::data::make(kConfigs), cfg) {
  // Timeouts of 1 to 3 intervals; enough trailing empty batches for every
  // key, including initial state that never gets a record, to time out.
  int timeout_batches = 1 + static_cast<int>(cfg.seed % 3);
  check_map_with_state(cfg, random_batches(cfg.seed + 200, 14, timeout_batches + 3, 0.3),
                       timeout_batches);
}

BOOST_AUTO_TEST_CASE(state_survives_encode_and_decode) {
  // Drives the state nodes' reduce directly, once keeping the partition
  // state object and once re-creating it from its encoded bytes after every
  // batch: a snapshot must capture all of it (states, key times, timeouts).
  trib::StreamingContext ssc(std::chrono::milliseconds(10));
  auto pairs = ssc.queueStream(std::make_shared<trib::BatchQueue<KV>>());
  auto totals = pairs.updateStateByKey(
      [](const std::vector<int>& fresh, const std::optional<int64_t>& s) -> std::optional<int64_t> {
        int64_t sum = s.value_or(0);
        for (int v : fresh) sum += v;
        if (fresh.empty() && sum % 2 == 0) return std::nullopt;
        return sum;
      },
      1);
  auto log = std::make_shared<CallLog>();
  auto mws = pairs.mapWithState(trib::StateSpec::function(summing_function(log))
                                    .initialState(random_initial_state(9))
                                    .numPartitions(1)
                                    .timeout(std::chrono::milliseconds(25)));
  mws.stateSnapshots();

  auto from_initial = pairs.updateStateByKey(
      [](const std::vector<int>& fresh, const std::optional<int64_t>& s) -> std::optional<int64_t> {
        int64_t sum = s.value_or(0) + 1;
        for (int v : fresh) sum += v;
        return sum;
      },
      1, random_initial_state(11));

  using Batch = trib::MapWithStateBatch<std::string, int64_t, Count>;
  auto batches = random_batches(42, 16, 4, 0.3);
  using trib::detail::StreamAccess;
  for (const trib::NodePtr& node :
       {StreamAccess::base(totals), StreamAccess::base(mws), StreamAccess::base(from_initial)}) {
    auto kept = node->make_state(0);
    auto restored = node->make_state(0);
    for (std::size_t i = 0; i < batches.size(); ++i) {
      trib::TaskContext ctx{1000 + 10 * static_cast<int64_t>(i), 0, 1};
      auto input = [&] { return std::vector<std::vector<trib::Partition>>{{trib::Partition::of(batches[i])}}; };
      auto a = node->reduce(ctx, input(), kept.get());
      auto fresh = node->make_state(0);
      fresh->decode(restored->encode());
      restored = std::move(fresh);
      auto b = node->reduce(ctx, input(), restored.get());
      BOOST_TEST_CONTEXT(node->name << " batch " << i) {
        if (node != StreamAccess::base(mws)) {
          BOOST_TEST((oracle::as_map(a.rows<Count>()) == oracle::as_map(b.rows<Count>())));
        } else {
          auto& x = a.rows<Batch>().at(0);
          auto& y = b.rows<Batch>().at(0);
          BOOST_TEST((oracle::sorted(x.mapped) == oracle::sorted(y.mapped)));
          BOOST_TEST((oracle::as_map(x.snapshots) == oracle::as_map(y.snapshots)));
        }
        BOOST_TEST(kept->encode().size() == restored->encode().size());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_rejected_when_declared) {
  trib::StreamingContext ssc(std::chrono::milliseconds(10));
  auto pairs = ssc.queueStream(std::make_shared<trib::BatchQueue<KV>>());
  auto update = [](const std::vector<int>&, const std::optional<int>& s) { return s; };
  BOOST_CHECK_THROW(pairs.updateStateByKey(update, -1), std::invalid_argument);
  auto spec = trib::StateSpec::function(
      [](int64_t, const std::string&, const std::optional<int>&, trib::State<int>&) {
        return std::optional<int>();
      });
  BOOST_CHECK_THROW(spec.numPartitions(0), std::invalid_argument);
  BOOST_CHECK_THROW(spec.numPartitions(-3), std::invalid_argument);
  BOOST_CHECK_THROW(spec.timeout(std::chrono::milliseconds(0)), std::invalid_argument);
  BOOST_CHECK_THROW(spec.timeout(std::chrono::milliseconds(-20)), std::invalid_argument);
  BOOST_CHECK_NO_THROW(pairs.mapWithState(spec.numPartitions(2).timeout(std::chrono::seconds(1))));
}
