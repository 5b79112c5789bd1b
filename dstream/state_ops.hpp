// DStream updateStateByKey and mapWithState. Included by dstream/dstream.hpp.
//
// Both keep per-key state across batches, as in Spark Streaming. The state of
// reduce partition r lives in the partition executor actor that owns r (a
// KeyedStateStore, see below), never in the node object: every batch, the
// records are hash-partitioned by key and partition r's new records are
// applied to partition r's state in place. Nothing is recomputed from earlier
// batches.
//
//   updateStateByKey(update, partitions)   (partitions 0: the context's default)
//   updateStateByKey(update, partitions, initial)  (Spark's initialRDD: a
//     std::vector<std::pair<K, S>> the keys start with, a key listed twice
//     keeping the later state; update runs for them from the first batch,
//     with or without new values)
//     update(const std::vector<V>& new_values, const std::optional<S>& state)
//       -> std::optional<S>
//     Called every batch for every key with new values or existing state
//     (new_values empty when the key got none); nullopt removes the key.
//     Gives DStream<pair<K, S>>: every key's current state, every batch.
//
//   mapWithState(StateSpec::function(f).initialState(...).numPartitions(n)
//                                      .timeout(d))
//     f(int64_t batch_time_ms, const K& key, const std::optional<V>& value,
//       trib::State<S>& state) -> std::optional<M>
//     (Spark's time-taking form.) Called once per new record, in the
//     record's order within the batch; the returned value, if any, is emitted.
//     With a timeout, a key that got no records for longer than the timeout
//     gets one last call with value = nullopt and state.isTimingOut(), in
//     the first batch whose time is more than the timeout after the key's
//     last record (or after the first batch, for initial state), and is
//     then removed. Any record refreshes the key's idle time, even if f leaves
//     the state untouched. As in Spark, a timing-out state can be neither
//     updated nor removed (State throws std::logic_error).
//     Gives a MapWithStateDStream<K, V, S, M>: a DStream<M> of the emitted
//     values, whose stateSnapshots() is DStream<pair<K, S>> of every key's
//     current state, every batch.
//
// S (and K, V, M for mapWithState) come from the function's signature, so
// the function must not be a generic lambda. It runs in the executors of
// several partitions at once, like any other operator function.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dstream/dstream.hpp"

namespace trib {

namespace detail {

// The signature of a non-generic callable: its result and argument types,
// taken from operator() (lambdas, functors) or the function type.
template <class F>
struct callable_traits : callable_traits<decltype(&F::operator())> {};
template <class R, class... A>
struct callable_traits<R (*)(A...)> {
  using result = R;
  using args = std::tuple<A...>;
};
template <class R, class... A>
struct callable_traits<R (*)(A...) noexcept> : callable_traits<R (*)(A...)> {};
template <class R, class... A>
struct callable_traits<R(A...)> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...)> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) const> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) noexcept> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) const noexcept> : callable_traits<R (*)(A...)> {};

template <class F, std::size_t I>
using arg_t = std::tuple_element_t<I, typename callable_traits<std::decay_t<F>>::args>;
template <class F>
using result_t = typename callable_traits<std::decay_t<F>>::result;

template <class T>
struct optional_traits : std::false_type {};
template <class T>
struct optional_traits<std::optional<T>> : std::true_type {
  using value_type = T;
};

// Whether Cereal can write (or, for an input archive, read) T with archive A.
template <class T, class A>
constexpr bool cereal_can = std::conditional_t<
    std::is_base_of_v<cereal::detail::OutputArchiveBase, A>,
    cereal::traits::is_output_serializable<T, A>,
    cereal::traits::is_input_serializable<T, A>>::value;

}  // namespace detail

// ---- the state of one reduce partition ---------------------------------------

// Per-key state of one reduce partition of a state node, owned by that
// partition's executor actor. Encodes to Cereal bytes for snapshots.
template <class K, class S>
class KeyedStateStore final : public PartitionState {
  static_assert(!holds_views_v<K> && !holds_views_v<S>,
                "updateStateByKey and mapWithState keep keys and state across batches: "
                "map Text keys to std::string first");

 public:
  struct Entry {
    S state;
    int64_t updated_ms = 0;  // time of the batch that last brought the key records
    template <class A>
    void serialize(A& archive) { archive(state, updated_ms); }
  };

  std::unordered_map<K, Entry> entries;
  // False until the node first ran: initial state (mapWithState) counts as
  // updated at the time of that first batch, as in Spark.
  bool started = false;

  std::string encode() const override {
    if constexpr (serializable) {
      return to_cereal_bytes(started, entries);
    } else {
      throw std::runtime_error(not_serializable());
    }
  }

  void decode(const std::string& bytes) override {
    if constexpr (serializable) {
      entries.clear();
      from_cereal_bytes(bytes, started, entries);
    } else {
      throw std::runtime_error(not_serializable());
    }
  }

 private:
  static constexpr bool serializable =
      detail::cereal_can<K, cereal::BinaryOutputArchive> &&
      detail::cereal_can<S, cereal::BinaryOutputArchive> &&
      detail::cereal_can<K, cereal::BinaryInputArchive> &&
      detail::cereal_can<S, cereal::BinaryInputArchive>;

  static std::string not_serializable() {
    return std::string("state key or state type has no Cereal serialize(): ") +
           typeid(K).name() + ", " + typeid(S).name();
  }
};

// ---- updateStateByKey ------------------------------------------------------------

template <class K, class V, class S>
class UpdateStateNode final : public Node {
 public:
  using Update =
      std::function<std::optional<S>(const std::vector<V>&, const std::optional<S>&)>;

  UpdateStateNode(int partitions, Update update, std::vector<std::pair<K, S>> initial = {})
      : partitions_(partitions), update_(std::move(update)), initial_(std::move(initial)) {
    name = "updateStateByKey";
    ordered = true;
  }

  int reduce_partitions() const override { return partitions_; }
  bool stateful() const override { return true; }
  // Initial state is placed like records, by key; a restored partition's
  // snapshot replaces it (the snapshot already holds what became of it).
  std::unique_ptr<PartitionState> make_state(int partition) const override {
    auto store = std::make_unique<KeyedStateStore<K, S>>();
    for (const auto& [key, s] : initial_)
      if (partition_of(key, partitions_) == partition) store->entries[key] = {s, 0};
    return store;
  }

  Partition reduce(const TaskContext& ctx, std::vector<std::vector<Partition>> buckets,
                   PartitionState* state) override {
    auto& entries = static_cast<KeyedStateStore<K, S>&>(*state).entries;
    std::unordered_map<K, std::vector<V>> fresh;
    for (const auto& b : buckets[0])
      for (const auto& kv : b.rows<std::pair<K, V>>()) fresh[kv.first].push_back(kv.second);

    // Keys with state but no new values.
    static const std::vector<V> none;
    for (auto it = entries.begin(); it != entries.end();) {
      if (fresh.count(it->first)) {
        ++it;
        continue;
      }
      std::optional<S> current(std::move(it->second.state));
      auto next = update_(none, current);
      if (!next) {
        it = entries.erase(it);
        continue;
      }
      it->second.state = std::move(*next);
      ++it;
    }
    // Keys with new values, with or without state.
    for (auto& [key, values] : fresh) {
      auto it = entries.find(key);
      std::optional<S> current;
      if (it != entries.end()) current = std::move(it->second.state);
      auto next = update_(values, current);
      if (!next) {
        if (it != entries.end()) entries.erase(it);
      } else if (it != entries.end()) {
        it->second = {std::move(*next), ctx.batch_time_ms};
      } else {
        entries.emplace(key, typename KeyedStateStore<K, S>::Entry{std::move(*next),
                                                                   ctx.batch_time_ms});
      }
    }

    std::vector<std::pair<K, S>> out;
    out.reserve(entries.size());
    for (const auto& [key, e] : entries) out.emplace_back(key, e.state);
    return Partition::of(std::move(out));
  }

 private:
  int partitions_;
  Update update_;
  std::vector<std::pair<K, S>> initial_;
};

template <class T>
template <class F>
auto DStream<T>::updateStateByKey(F update, int partitions) const {
  static_assert(pair_traits<T>::value, "updateStateByKey needs a DStream of std::pair<K, V>");
  using K = typename pair_traits<T>::key_type;
  using R = std::decay_t<detail::result_t<F>>;
  static_assert(detail::optional_traits<R>::value,
                "updateStateByKey: update must return std::optional<S> (nullopt removes the key)");
  using S = typename detail::optional_traits<R>::value_type;
  return updateStateByKey(std::move(update), partitions, std::vector<std::pair<K, S>>{});
}

template <class T>
template <class F, class KS>
auto DStream<T>::updateStateByKey(F update, int partitions, std::vector<KS> initial) const {
  static_assert(pair_traits<T>::value, "updateStateByKey needs a DStream of std::pair<K, V>");
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  using R = std::decay_t<detail::result_t<F>>;
  static_assert(detail::optional_traits<R>::value,
                "updateStateByKey: update must return std::optional<S> (nullopt removes the key)");
  using S = typename detail::optional_traits<R>::value_type;
  static_assert(std::is_same_v<KS, std::pair<K, S>>,
                "updateStateByKey: the initial state must be std::vector<std::pair<K, S>> with "
                "the stream's key type K and the state type S update returns");
  int n = job_->partitions(partitions);
  auto node = std::make_shared<UpdateStateNode<K, V, S>>(n, std::move(update), std::move(initial));
  detail::add_edge(*this, *node, detail::hash_partition_edge(*this, n));
  detail::inherit_slide(*this, *node);
  return detail::add_node<std::pair<K, S>>(*this, node);
}

// ---- mapWithState ------------------------------------------------------------------

template <class K, class V, class S, class M>
class MapWithStateNode;
template <class S>
class State;

namespace detail {
template <class T>
struct state_traits : std::false_type {};
template <class S>
struct state_traits<State<S>> : std::true_type {
  using value_type = S;
};
}  // namespace detail

// The state of one key, as mapWithState's function sees it (Spark's State).
template <class S>
class State {
 public:
  bool exists() const { return value_.has_value(); }

  const S& get() const {
    if (!value_) throw std::out_of_range("State::get: the key has no state (check exists())");
    return *value_;
  }

  std::optional<S> getOption() const { return value_; }

  void update(S s) {
    if (timing_out_) throw std::logic_error("State::update: the state is timing out");
    if (removed_) throw std::logic_error("State::update: the state was removed");
    value_ = std::move(s);
  }

  // As in Spark, a timing-out state is removed anyway and cannot be removed.
  void remove() {
    if (timing_out_) throw std::logic_error("State::remove: the state is timing out");
    if (removed_) throw std::logic_error("State::remove: the state was already removed");
    value_.reset();
    removed_ = true;
  }

  bool isTimingOut() const { return timing_out_; }

 private:
  template <class, class, class, class>
  friend class MapWithStateNode;

  State(std::optional<S> value, bool timing_out)
      : value_(std::move(value)), timing_out_(timing_out) {}

  std::optional<S> value_;
  bool timing_out_ = false;
  bool removed_ = false;
};

// What mapWithState needs: the function, and optionally initial state, the
// number of partitions and an idle timeout. Built with StateSpec::function(f);
// each setter returns a new spec.
template <class K, class V, class S, class M>
class StateSpecOf {
 public:
  using key_type = K;
  using value_type = V;
  using state_type = S;
  using mapped_type = M;
  using Function = std::function<std::optional<M>(int64_t, const K&, const std::optional<V>&,
                                                  State<S>&)>;

  explicit StateSpecOf(Function f) : fn_(std::move(f)) {}

  // State the keys start with; a key listed twice keeps the later state.
  StateSpecOf initialState(std::vector<std::pair<K, S>> initial) const {
    auto spec = *this;
    spec.initial_ = std::move(initial);
    return spec;
  }

  StateSpecOf numPartitions(int n) const {
    if (n < 1) throw std::invalid_argument("StateSpec::numPartitions: need at least 1 partition");
    auto spec = *this;
    spec.partitions_ = n;
    return spec;
  }

  StateSpecOf timeout(std::chrono::milliseconds idle) const {
    if (idle.count() <= 0) throw std::invalid_argument("StateSpec::timeout: must be positive");
    auto spec = *this;
    spec.timeout_ms_ = idle.count();
    return spec;
  }

  const Function& mapping_function() const { return fn_; }
  const std::vector<std::pair<K, S>>& initial_state() const { return initial_; }
  int partitions() const { return partitions_; }  // 0: the context's default
  int64_t timeout_ms() const { return timeout_ms_; }  // 0: no timeout

 private:
  Function fn_;
  std::vector<std::pair<K, S>> initial_;
  int partitions_ = 0;
  int64_t timeout_ms_ = 0;
};

template <class T>
struct is_state_spec : std::false_type {};
template <class K, class V, class S, class M>
struct is_state_spec<StateSpecOf<K, V, S, M>> : std::true_type {};

struct StateSpec {
  // K, V, S and M come from f's signature, which must be
  //   std::optional<M> f(int64_t, const K&, const std::optional<V>&, trib::State<S>&)
  // (the parameters may be taken by value, except the state).
  template <class F>
  static auto function(F f) {
    using Args = typename detail::callable_traits<std::decay_t<F>>::args;
    static_assert(std::tuple_size_v<Args> == 4,
                  "StateSpec::function: f takes (int64_t batch_time_ms, const K& key, "
                  "const std::optional<V>& value, trib::State<S>& state)");
    using K = std::decay_t<detail::arg_t<F, 1>>;
    using OptV = std::decay_t<detail::arg_t<F, 2>>;
    using StateRef = detail::arg_t<F, 3>;
    using R = std::decay_t<detail::result_t<F>>;
    static_assert(detail::optional_traits<OptV>::value,
                  "StateSpec::function: f's value parameter must be std::optional<V>");
    static_assert(std::is_lvalue_reference_v<StateRef> &&
                      !std::is_const_v<std::remove_reference_t<StateRef>>,
                  "StateSpec::function: f must take the state as trib::State<S>&");
    static_assert(detail::optional_traits<R>::value,
                  "StateSpec::function: f must return std::optional<M> (nullopt emits nothing)");
    using V = typename detail::optional_traits<OptV>::value_type;
    static_assert(detail::state_traits<std::remove_reference_t<StateRef>>::value,
                  "StateSpec::function: f must take the state as trib::State<S>&");
    using S = typename detail::state_traits<std::remove_reference_t<StateRef>>::value_type;
    using M = typename detail::optional_traits<R>::value_type;
    return StateSpecOf<K, V, S, M>(std::move(f));
  }
};

// One reduce partition's output of one batch: the emitted values and, if
// anyone reads stateSnapshots(), a copy of the partition's state.
template <class K, class S, class M>
struct MapWithStateBatch {
  std::vector<M> mapped;
  std::vector<std::pair<K, S>> snapshots;

  // Only when Cereal knows every part, so that a non-serializable M fails
  // at encode time (like any other record type) rather than at compile time.
  template <class A, std::enable_if_t<detail::cereal_can<std::vector<M>, A> &&
                                          detail::cereal_can<std::pair<K, S>, A>,
                                      int> = 0>
  void serialize(A& archive) {
    archive(mapped, snapshots);
  }
};

template <class K, class V, class S, class M>
class MapWithStateNode final : public Node {
 public:
  using Spec = StateSpecOf<K, V, S, M>;
  using Store = KeyedStateStore<K, S>;
  using Batch = MapWithStateBatch<K, S, M>;

  MapWithStateNode(int partitions, Spec spec) : partitions_(partitions), spec_(std::move(spec)) {
    name = "mapWithState";
    ordered = true;
  }

  // Set while the graph is built (before any batch runs) by stateSnapshots():
  // copying all state every batch is only worth it when someone reads it.
  bool snapshots_wanted = false;

  int reduce_partitions() const override { return partitions_; }
  bool stateful() const override { return true; }

  std::unique_ptr<PartitionState> make_state(int partition) const override {
    auto store = std::make_unique<Store>();
    for (const auto& [key, s] : spec_.initial_state())
      if (partition_of(key, partitions_) == partition) store->entries[key] = {s, 0};
    return store;
  }

  Partition reduce(const TaskContext& ctx, std::vector<std::vector<Partition>> buckets,
                   PartitionState* state) override {
    auto& store = static_cast<Store&>(*state);
    auto& entries = store.entries;
    const int64_t t = ctx.batch_time_ms;
    if (!store.started) {
      for (auto& [key, e] : entries) e.updated_ms = t;
      store.started = true;
    }
    const auto& f = spec_.mapping_function();
    Batch out;

    for (const auto& b : buckets[0]) {
      for (const auto& [key, value] : b.rows<std::pair<K, V>>()) {
        auto it = entries.find(key);
        std::optional<S> current;
        if (it != entries.end()) current = std::move(it->second.state);
        State<S> st(std::move(current), false);
        if (auto m = f(t, key, std::optional<V>(value), st)) out.mapped.push_back(std::move(*m));
        if (!st.exists()) {
          if (it != entries.end()) entries.erase(it);
        } else if (it != entries.end()) {
          // A record refreshes the key's time even if f left the state as is.
          it->second = {std::move(*st.value_), t};
        } else {
          entries.emplace(key, typename Store::Entry{std::move(*st.value_), t});
        }
      }
    }

    if (spec_.timeout_ms() > 0) {
      for (auto it = entries.begin(); it != entries.end();) {
        if (t - it->second.updated_ms <= spec_.timeout_ms()) {
          ++it;
          continue;
        }
        State<S> st(std::move(it->second.state), true);
        if (auto m = f(t, it->first, std::nullopt, st)) out.mapped.push_back(std::move(*m));
        it = entries.erase(it);
      }
    }

    if (snapshots_wanted) {
      out.snapshots.reserve(entries.size());
      for (const auto& [key, e] : entries) out.snapshots.emplace_back(key, e.state);
    }
    return Partition::of(std::vector<Batch>{std::move(out)});
  }

 private:
  int partitions_;
  Spec spec_;
};

// What mapWithState returns: the stream of emitted values (use it as any
// DStream<M>), plus stateSnapshots().
template <class K, class V, class S, class M>
class MapWithStateDStream : public DStream<M> {
 public:
  MapWithStateDStream(DStream<M> mapped, DStream<std::pair<K, S>> snapshots,
                      std::shared_ptr<MapWithStateNode<K, V, S, M>> node)
      : DStream<M>(std::move(mapped)), snapshots_(std::move(snapshots)), node_(std::move(node)) {}

  // Every key's current state, every batch (after the batch's records and
  // timeouts were applied).
  DStream<std::pair<K, S>> stateSnapshots() const {
    if (detail::StreamAccess::job(*this)->started)
      throw std::logic_error(
          "cannot call stateSnapshots() after the StreamingContext has started");
    node_->snapshots_wanted = true;
    return snapshots_;
  }

 private:
  DStream<std::pair<K, S>> snapshots_;
  std::shared_ptr<MapWithStateNode<K, V, S, M>> node_;
};

template <class T>
template <class Spec>
auto DStream<T>::mapWithState(const Spec& spec) const {
  static_assert(is_state_spec<Spec>::value,
                "mapWithState takes a spec made with trib::StateSpec::function(f)");
  using K = typename Spec::key_type;
  using V = typename Spec::value_type;
  using S = typename Spec::state_type;
  using M = typename Spec::mapped_type;
  static_assert(std::is_same_v<T, std::pair<K, V>>,
                "mapWithState: the stream's records must be std::pair<K, V> with the K and V "
                "of the StateSpec's function");
  using Batch = MapWithStateBatch<K, S, M>;
  int n = job_->partitions(spec.partitions());
  auto node = std::make_shared<MapWithStateNode<K, V, S, M>>(n, spec);
  detail::add_edge(*this, *node, detail::hash_partition_edge(*this, n));
  detail::inherit_slide(*this, *node);
  job_->add(node);
  // Both streams read the node's one output partition per reduce partition.
  auto mapped = detail::StreamAccess::make<M>(
      job_, node, [](const Partition& in, const TaskContext&, const ChunkEmit<M>& emit) {
        for (const auto& b : in.rows<Batch>())
          if (!b.mapped.empty()) emit(b.mapped);
      });
  auto snapshots = detail::StreamAccess::make<std::pair<K, S>>(
      job_, node,
      [](const Partition& in, const TaskContext&, const ChunkEmit<std::pair<K, S>>& emit) {
        for (const auto& b : in.rows<Batch>())
          if (!b.snapshots.empty()) emit(b.snapshots);
      },
      ".stateSnapshots");
  return MapWithStateDStream<K, V, S, M>(std::move(mapped), std::move(snapshots), node);
}

}  // namespace trib
