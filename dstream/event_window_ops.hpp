// The event-time window operator (definitions in dstream/event_time.hpp).
// Included by dstream/event_time.hpp.
//
// One stateful node: the map side tags each record with its event time,
// hash-partitions by key, and stamps every bucket with its input partition's
// largest event time, so every reduce partition sees every channel and
// computes the same watermark. Each reduce partition keeps, in its partition
// executor (checkpointed, placed on workers like updateStateByKey's state),
// the watermark tracker and its keys' open windows.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "dstream/event_time.hpp"

namespace trib {

template <class K, class V>
struct EventRecord {
  int64_t ts = 0;
  K key;
  V value;
  template <class A>
  void serialize(A& archive) { archive(ts, key, value); }
};

// Bucket r of one map task: its records for reduce partition r, and the
// largest event time in the whole input partition (kNoWatermark: none).
template <class K, class V>
struct EventBucket {
  int64_t channel_max_ts = kNoWatermark;
  std::vector<EventRecord<K, V>> records;
  template <class A>
  void serialize(A& archive) { archive(channel_max_ts, records); }
};

// One reduce partition's output of one batch.
template <class K, class R, class T>
struct EventWindowBatch {
  std::vector<WindowResult<K, R>> results;
  std::vector<T> late;                  // filled when lateRecords() is read
  int64_t watermark_ms = kNoWatermark;  // the watermark this batch ran with
  int64_t late_count = 0;
  int64_t open_windows = 0;             // windows held after the batch
  template <class A>
  void serialize(A& archive) { archive(results, late, watermark_ms, late_count, open_windows); }
};

template <class K, class A>
class EventWindowState final : public PartitionState {
  static_assert(!holds_views_v<K> && !holds_views_v<A>,
                "event-time windows keep keys and values across batches: map Text to "
                "std::string first");

 public:
  struct Session {
    int64_t start = 0, end = 0;
    A acc;
    bool changed = false;  // during a batch (update mode)
    template <class Ar>
    void serialize(Ar& archive) { archive(start, end, acc); }
  };

  WatermarkTracker tracker;
  // Tumbling and sliding windows by (end, start): purging walks the front.
  std::map<std::pair<int64_t, int64_t>, std::unordered_map<K, A>> panes;
  // Session windows per key, sorted by start, disjoint.
  std::unordered_map<K, std::vector<Session>> sessions;

  int64_t open_windows() const {
    int64_t n = 0;
    for (const auto& [w, keys] : panes) n += static_cast<int64_t>(keys.size());
    for (const auto& [k, list] : sessions) n += static_cast<int64_t>(list.size());
    return n;
  }

  std::string encode() const override {
    if constexpr (serializable) {
      return to_cereal_bytes(tracker, panes, sessions);
    } else {
      throw std::runtime_error(std::string("event-time window key or accumulator has no Cereal "
                                           "serialize(): ") + typeid(K).name() + ", " +
                               typeid(A).name());
    }
  }
  void decode(const std::string& bytes) override {
    if constexpr (serializable) {
      int64_t bound = tracker.bound_ms, idle = tracker.idle_ms;
      tracker = WatermarkTracker{};
      tracker.bound_ms = bound;
      tracker.idle_ms = idle;
      panes.clear();
      sessions.clear();
      from_cereal_bytes(bytes, tracker, panes, sessions);
    } else {
      throw std::runtime_error("event-time window state cannot be decoded");
    }
  }

 private:
  static constexpr bool serializable = detail::cereal_can<K, cereal::BinaryOutputArchive> &&
                                       detail::cereal_can<A, cereal::BinaryOutputArchive> &&
                                       detail::cereal_can<K, cereal::BinaryInputArchive> &&
                                       detail::cereal_can<A, cereal::BinaryInputArchive>;
};

// What the coordinator learns from an event-time node's batch, for BatchInfo.
class EventTimeNode : public Node {
 public:
  bool late_wanted = false;  // set by lateRecords() while the graph is built

  void describe_batch(int64_t t, BatchInfo& info) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = reports_.find(t);
    if (it == reports_.end()) return;
    const Report& r = it->second;
    if (r.watermark_ms != kNoWatermark)
      info.watermark_ms = info.watermark_ms ? std::min(*info.watermark_ms, r.watermark_ms) : r.watermark_ms;
    info.late_records += r.late;
    info.event_windows_open += r.open;
    reports_.erase(reports_.begin(), std::next(it));
  }

 protected:
  struct Report {
    int64_t watermark_ms = kNoWatermark;
    int64_t late = 0, open = 0;
  };
  void report(int64_t t, Report r) {
    std::lock_guard<std::mutex> lock(mutex_);
    reports_[t] = r;
  }

 private:
  std::mutex mutex_;
  std::map<int64_t, Report> reports_;
};

template <class K, class V, class A, class R>
class EventWindowNode final : public EventTimeNode {
 public:
  using T = std::pair<K, V>;
  using State = EventWindowState<K, A>;
  using Batch = EventWindowBatch<K, R, T>;
  using Bucket = EventBucket<K, V>;

  EventWindowNode(int partitions, EventWindows windows, int64_t bound_ms, int64_t idle_ms,
                  int64_t lateness_ms, OutputMode mode, WindowAggregation<V, A, R> agg)
      : partitions_(partitions), windows_(windows), bound_ms_(bound_ms), idle_ms_(idle_ms),
        lateness_ms_(lateness_ms), mode_(mode), agg_(std::move(agg)) {
    // The name is in the graph fingerprint: a checkpoint of other windows is refused.
    name = "eventWindow(" + windows_.describe() + ", lateness " + std::to_string(lateness_ms_) +
           ", bound " + std::to_string(bound_ms_) + ", " +
           (mode_ == OutputMode::append ? "append" : "update") + ", " + agg_.name + ")";
    ordered = true;
  }

  int reduce_partitions() const override { return partitions_; }
  bool stateful() const override { return true; }
  std::unique_ptr<PartitionState> make_state(int) const override {
    auto st = std::make_unique<State>();
    st->tracker.bound_ms = bound_ms_;
    st->tracker.idle_ms = idle_ms_;
    return st;
  }

  Partition reduce(const TaskContext& ctx, std::vector<std::vector<Partition>> buckets,
                   PartitionState* state) override {
    auto& st = static_cast<State&>(*state);
    const int64_t wm = st.tracker.watermark;
    Batch out;
    out.watermark_ms = wm;
    // Complete windows leave first (append: with their result), so a record
    // never lands in a window the watermark has closed.
    auto complete = [&](int64_t end) { return wm != kNoWatermark && end + lateness_ms_ <= wm; };
    const bool emit_complete = mode_ == OutputMode::append;
    while (!st.panes.empty() && complete(st.panes.begin()->first.first)) {
      auto& [w, keys] = *st.panes.begin();
      if (emit_complete)
        for (auto& [k, a] : keys) out.results.push_back({k, w.second, w.first, agg_.result(a)});
      st.panes.erase(st.panes.begin());
    }
    for (auto it = st.sessions.begin(); it != st.sessions.end();) {
      auto& list = it->second;
      auto keep = list.begin();
      for (auto& s : list) {
        if (complete(s.end)) {
          if (emit_complete) out.results.push_back({it->first, s.start, s.end, agg_.result(s.acc)});
        } else {
          *keep++ = std::move(s);
        }
      }
      list.erase(keep, list.end());
      it = list.empty() ? st.sessions.erase(it) : std::next(it);
    }

    // This batch's records, per key in event-time order (ties: arrival order).
    std::vector<int64_t> channel_max;
    std::unordered_map<K, std::vector<std::pair<int64_t, V>>> by_key;
    std::vector<const K*> key_order;
    for (const auto& p : buckets[0]) {
      int64_t mx = kNoWatermark;
      for (const auto& b : p.rows<Bucket>()) {
        mx = std::max(mx, b.channel_max_ts);
        for (const auto& r : b.records) {
          auto [it, fresh] = by_key.try_emplace(r.key);
          if (fresh) key_order.push_back(&it->first);
          it->second.emplace_back(r.ts, r.value);
        }
      }
      channel_max.push_back(mx);
    }
    std::map<std::pair<int64_t, int64_t>, std::unordered_set<K>> changed;  // update mode
    for (const K* kp : key_order) {
      const K& key = *kp;
      auto& recs = by_key[key];
      std::stable_sort(recs.begin(), recs.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [ts, v] : recs) {
        bool taken = windows_.is_session() ? add_to_session(st, key, ts, v, complete)
                                           : add_to_panes(st, key, ts, v, complete, changed);
        if (!taken) {
          ++out.late_count;
          if (late_wanted) out.late.emplace_back(key, v);
        }
      }
    }
    if (mode_ == OutputMode::update) {
      for (auto& [w, keys] : changed)
        for (const auto& k : keys)
          out.results.push_back({k, w.second, w.first, agg_.result(st.panes.at(w).at(k))});
      for (auto& [k, list] : st.sessions)
        for (auto& s : list)
          if (s.changed) out.results.push_back({k, s.start, s.end, agg_.result(s.acc)});
    }
    for (auto& [k, list] : st.sessions)
      for (auto& s : list) s.changed = false;

    st.tracker.advance(ctx.batch_time_ms, channel_max);
    if (ctx.end_of_input) fire_all(st, out);
    out.open_windows = st.open_windows();
    return Partition::of(std::vector<Batch>{std::move(out)});
  }

  Dataset finish(int64_t t, std::vector<Dataset> outputs) override {
    Dataset all = Node::finish(t, std::move(outputs));
    Report r;
    for (const auto& p : all)
      for (const auto& b : p.rows<Batch>()) {
        r.watermark_ms = b.watermark_ms;  // the same in every partition
        r.late += b.late_count;
        r.open += b.open_windows;
      }
    report(t, r);
    return all;
  }

 private:
  // The input ended: no record will come, so every open window is complete,
  // as if the watermark jumped past them all (Flink's final watermark). In
  // update mode each was emitted when it last changed.
  void fire_all(State& st, Batch& out) {
    if (mode_ == OutputMode::append) {
      for (auto& [w, keys] : st.panes)
        for (auto& [k, a] : keys) out.results.push_back({k, w.second, w.first, agg_.result(a)});
      for (auto& [k, list] : st.sessions)
        for (auto& s : list) out.results.push_back({k, s.start, s.end, agg_.result(s.acc)});
    }
    st.panes.clear();
    st.sessions.clear();
  }

  template <class Complete>
  bool add_to_panes(State& st, const K& key, int64_t ts, const V& v, const Complete& complete,
                    std::map<std::pair<int64_t, int64_t>, std::unordered_set<K>>& changed) {
    bool taken = false;
    // Every window [s, s + size) with s a multiple of slide holding ts, latest first.
    for (int64_t s = floor_to_multiple(ts, windows_.slide_ms); s > ts - windows_.size_ms;
         s -= windows_.slide_ms) {
      std::pair<int64_t, int64_t> w(s + windows_.size_ms, s);
      if (complete(w.first)) break;  // earlier windows end earlier: complete too
      auto& keys = st.panes[w];
      auto it = keys.find(key);
      if (it == keys.end()) keys.emplace(key, agg_.create(v));
      else it->second = agg_.add(it->second, v);
      if (mode_ == OutputMode::update) changed[w].insert(key);
      taken = true;
    }
    return taken;
  }

  template <class Complete>
  bool add_to_session(State& st, const K& key, int64_t ts, const V& v, const Complete& complete) {
    using Session = typename State::Session;
    int64_t start = ts, end = ts + windows_.gap_ms;
    auto found = st.sessions.find(key);
    std::vector<Session>* list = found == st.sessions.end() ? nullptr : &found->second;
    // Sessions that overlap or touch [start, end) merge with it (Flink's rule).
    std::vector<Session> merged, rest;
    if (list)
      for (auto& s : *list)
        (s.start <= end && s.end >= start ? merged : rest).push_back(std::move(s));
    if (merged.empty() && complete(end)) {
      if (list) *list = std::move(rest);
      return false;
    }
    Session m;
    m.start = start;
    m.end = end;
    if (merged.empty()) {
      m.acc = agg_.create(v);
    } else {
      m.acc = merged[0].acc;
      for (std::size_t i = 1; i < merged.size(); ++i) m.acc = agg_.merge(m.acc, merged[i].acc);
      m.acc = agg_.add(m.acc, v);
      for (const auto& s : merged) {
        m.start = std::min(m.start, s.start);
        m.end = std::max(m.end, s.end);
      }
    }
    m.changed = true;
    auto pos = std::lower_bound(rest.begin(), rest.end(), m.start,
                                [](const Session& s, int64_t x) { return s.start < x; });
    rest.insert(pos, std::move(m));
    st.sessions[key] = std::move(rest);
    return true;
  }

  int partitions_;
  EventWindows windows_;
  int64_t bound_ms_, idle_ms_, lateness_ms_;
  OutputMode mode_;
  WindowAggregation<V, A, R> agg_;
};

// The windows' results (a DStream<WindowResult<K, R>>), plus lateRecords().
template <class K, class R, class T>
class EventWindowDStream : public DStream<WindowResult<K, R>> {
 public:
  EventWindowDStream(DStream<WindowResult<K, R>> results, DStream<T> late,
                     std::shared_ptr<EventTimeNode> node)
      : DStream<WindowResult<K, R>>(std::move(results)), late_(std::move(late)),
        node_(std::move(node)) {}

  // The records dropped as later than the allowed lateness (Flink's side
  // output), each batch: (key, value).
  DStream<T> lateRecords() const {
    if (detail::StreamAccess::job(*this)->started)
      throw std::logic_error("cannot call lateRecords() after the StreamingContext has started");
    node_->late_wanted = true;
    return late_;
  }

 private:
  DStream<T> late_;
  std::shared_ptr<EventTimeNode> node_;
};

template <class T>
template <class A, class R>
EventWindowDStream<typename EventWindowedStream<T>::K, R, T> EventWindowedStream<T>::build(
    WindowAggregation<V, A, R> agg) const {
  static_assert(!holds_views_v<K> && !holds_views_v<V>,
                "event-time windows keep keys and values across batches: map Text to "
                "std::string first");
  using Node_ = EventWindowNode<K, V, A, R>;
  using Batch = typename Node_::Batch;
  using Bucket = EventBucket<K, V>;
  int n = detail::resolve_partitions(stream_, partitions_);
  auto node = std::make_shared<Node_>(n, windows_, bound_ms_, idle_ms_, lateness_ms_, mode_,
                                      std::move(agg));
  auto pipe = detail::StreamAccess::pipe(stream_);
  auto extract = extract_;
  detail::add_edge(stream_, *node, [pipe, extract, n](const Partition& in, const TaskContext& ctx) {
    std::vector<Bucket> buckets(n);
    int64_t mx = kNoWatermark;
    for_each_record<T>(pipe, in, ctx, [&](const T& kv) {
      int64_t ts = extract(kv);
      mx = std::max(mx, ts);
      buckets[n == 1 ? 0 : partition_of(kv.first, n)].records.push_back({ts, kv.first, kv.second});
    });
    std::vector<Partition> out;
    out.reserve(n);
    for (auto& b : buckets) {
      b.channel_max_ts = mx;
      out.push_back(Partition::of(std::vector<Bucket>{std::move(b)}));
    }
    return out;
  });
  detail::inherit_slide(stream_, *node);
  auto job = detail::StreamAccess::job(stream_);
  job->add(node);
  using Result = WindowResult<K, R>;
  auto results = detail::StreamAccess::make<Result>(
      job, node, [](const Partition& in, const TaskContext&, const ChunkEmit<Result>& emit) {
        for (const auto& b : in.rows<Batch>())
          if (!b.results.empty()) emit(b.results);
      });
  auto late = detail::StreamAccess::make<T>(
      job, node,
      [](const Partition& in, const TaskContext&, const ChunkEmit<T>& emit) {
        for (const auto& b : in.rows<Batch>())
          if (!b.late.empty()) emit(b.late);
      },
      ".lateRecords");
  return EventWindowDStream<K, R, T>(std::move(results), std::move(late), node);
}

}  // namespace trib
