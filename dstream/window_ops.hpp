// DStream window operations. Included by dstream/dstream.hpp.
//
// A window of length L sliding by S holds the parent's batches with times in
// (t - L, t] and produces every S. L and S must be multiples of the batch
// interval and of the parent's own slide; this is checked when the window is
// declared.
//
// window() keeps the parent's recent datasets in a WindowNode on the
// coordinator. The incremental reduceByKeyAndWindow keeps, per reduce
// partition, the window's value per key plus each batch's reduced slice in
// its partition executor: every batch adds the entering slice with f and
// removes the leaving one with the inverse function.
#pragma once

#include <deque>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <cereal/types/deque.hpp>

#include "dstream/dstream.hpp"

namespace trib {

namespace detail {

// Checks and normalizes (length, slide) for operation `op`; returns the
// slide in milliseconds.
inline int64_t checked_window(const char* op, std::chrono::milliseconds length,
                              std::chrono::milliseconds slide, int64_t interval_ms,
                              int64_t parent_slide_ms) {
  int64_t l = length.count(), s = slide.count() == 0 ? parent_slide_ms : slide.count();
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(std::string(op) + ": " + what + " (batch interval " +
                                std::to_string(interval_ms) + " ms, parent slide " +
                                std::to_string(parent_slide_ms) + " ms)");
  };
  if (l <= 0) fail("window length must be positive, got " + std::to_string(l) + " ms");
  if (s <= 0) fail("slide must be positive, got " + std::to_string(s) + " ms");
  if (l % parent_slide_ms != 0)
    fail("window length " + std::to_string(l) + " ms is not a multiple of the parent's slide");
  if (s % parent_slide_ms != 0)
    fail("slide " + std::to_string(s) + " ms is not a multiple of the parent's slide");
  return s;
}

// Merges value v into m[k] with f (associative, commutative).
template <class Map, class K, class V, class F>
void merge_value(Map& m, const K& k, const V& v, const F& f) {
  auto [it, fresh] = m.try_emplace(k, v);
  if (!fresh) it->second = f(it->second, v);
}

inline std::string encode_history(const std::deque<std::pair<int64_t, Dataset>>& history) {
  std::vector<std::pair<int64_t, std::vector<std::string>>> plain;
  for (const auto& [t, parts] : history) {
    plain.emplace_back(t, std::vector<std::string>{});
    for (const auto& p : parts) plain.back().second.push_back(p.encode());
  }
  return to_cereal_bytes(plain);
}

inline std::deque<std::pair<int64_t, Dataset>> decode_history(const std::string& bytes) {
  std::vector<std::pair<int64_t, std::vector<std::string>>> plain;
  from_cereal_bytes(bytes, plain);
  std::deque<std::pair<int64_t, Dataset>> history;
  for (auto& [t, parts] : plain) {
    history.emplace_back(t, Dataset{});
    for (auto& p : parts) history.back().second.push_back(Partition::from_bytes(std::move(p)));
  }
  return history;
}

}  // namespace detail

// Keeps the parent's datasets of the last `length_ms`; runs on the
// coordinator (finish), so the history lives in the node.
class WindowNode : public Node {
 public:
  WindowNode(int64_t length_ms, int slide_batches) : length_ms_(length_ms) {
    name = "window";
    ordered = true;
    this->slide_batches = slide_batches;
  }

  Dataset finish(int64_t t, std::vector<Dataset> outputs) override {
    // Kept for the window's length: views are copied out of their blocks,
    // so the window keeps the bytes it needs, not every block they came from.
    Dataset batch = Node::finish(t, std::move(outputs));
    for (auto& p : batch) p = p.detached();
    history_.emplace_back(t, std::move(batch));
    while (!history_.empty() && history_.front().first <= t - length_ms_) history_.pop_front();
    Dataset all;
    for (const auto& [time, parts] : history_) all.insert(all.end(), parts.begin(), parts.end());
    return all;
  }

  std::string save_state() const override { return detail::encode_history(history_); }
  void restore_state(const std::string& bytes) override { history_ = detail::decode_history(bytes); }

 private:
  int64_t length_ms_;
  std::deque<std::pair<int64_t, Dataset>> history_;
};

// The state of one reduce partition of an incremental window: the window's
// value per key, plus each batch's reduced slice until it leaves the window.
template <class K, class V>
class IncrementalWindowState final : public PartitionState {
  static_assert(!holds_views_v<K> && !holds_views_v<V>,
                "reduceByKeyAndWindow with an inverse function keeps keys and values across "
                "batches: map Text to std::string first");

 public:
  std::unordered_map<K, V> window;
  std::deque<std::pair<int64_t, std::vector<std::pair<K, V>>>> slices;

  std::string encode() const override { return to_cereal_bytes(window, slices); }
  void decode(const std::string& bytes) override {
    window.clear();
    slices.clear();
    from_cereal_bytes(bytes, window, slices);
  }
};

// Spark's ReducedWindowedDStream: the new window value of a key is
// inverse(previous, reduce(leaving values)) then f(that, reduce(entering
// values)); a key whose values all left the window stays with its
// inverse-reduced value (e.g. ("a", 0)) until the filter `keep` (Spark's
// filterFunc) drops it. Dropped keys leave the window state entirely.
template <class K, class V>
class IncrementalWindowNode final : public Node {
 public:
  using Fn = std::function<V(const V&, const V&)>;
  using Keep = std::function<bool(const std::pair<K, V>&)>;

  IncrementalWindowNode(int partitions, int64_t length_ms, int slide_batches, Fn f, Fn inverse,
                        Keep keep)
      : partitions_(partitions), length_ms_(length_ms), f_(std::move(f)),
        inverse_(std::move(inverse)), keep_(std::move(keep)) {
    name = "reduceByKeyAndWindow(incremental)";
    ordered = true;
    this->slide_batches = slide_batches;
  }

  int reduce_partitions() const override { return partitions_; }
  bool stateful() const override { return true; }
  std::unique_ptr<PartitionState> make_state(int) const override {
    return std::make_unique<IncrementalWindowState<K, V>>();
  }

  Partition reduce(const TaskContext& ctx, std::vector<std::vector<Partition>> buckets,
                   PartitionState* state) override {
    auto& st = static_cast<IncrementalWindowState<K, V>&>(*state);
    // Remove the slices that left the window: their values, reduced per key
    // first, are inverse-reduced from the window's value.
    std::unordered_map<K, V> leaving;
    while (!st.slices.empty() && st.slices.front().first <= ctx.batch_time_ms - length_ms_) {
      for (const auto& [k, v] : st.slices.front().second) detail::merge_value(leaving, k, v, f_);
      st.slices.pop_front();
    }
    for (const auto& [k, v] : leaving)
      if (auto it = st.window.find(k); it != st.window.end())
        it->second = inverse_(it->second, v);
    // Add the entering slice.
    std::unordered_map<K, V> slice;
    for (const auto& b : buckets[0])
      for (const auto& kv : b.rows<std::pair<K, V>>()) detail::merge_value(slice, kv.first, kv.second, f_);
    for (const auto& [k, v] : slice) detail::merge_value(st.window, k, v, f_);
    st.slices.emplace_back(ctx.batch_time_ms, std::vector<std::pair<K, V>>(slice.begin(), slice.end()));

    std::vector<std::pair<K, V>> out;
    out.reserve(st.window.size());
    std::unordered_map<K, bool> dropped;
    for (auto it = st.window.begin(); it != st.window.end();) {
      std::pair<K, V> kv(it->first, it->second);
      if (keep_ && !keep_(kv)) {
        dropped.emplace(it->first, true);
        it = st.window.erase(it);
        continue;
      }
      out.push_back(std::move(kv));
      ++it;
    }
    if (!dropped.empty())
      for (auto& [t, rows] : st.slices)
        rows.erase(std::remove_if(rows.begin(), rows.end(),
                                  [&](const std::pair<K, V>& r) { return dropped.count(r.first) > 0; }),
                   rows.end());
    return Partition::of(std::move(out));
  }

 private:
  int partitions_;
  int64_t length_ms_;
  Fn f_, inverse_;
  Keep keep_;
};

template <class T>
DStream<T> DStream<T>::window(Duration length, Duration slide) const {
  int64_t interval = job_->graph.batch_interval_ms;
  int64_t s = detail::checked_window("window", length, slide, interval,
                                     base_->slide_batches * interval);
  auto node = std::make_shared<WindowNode>(length.count(), static_cast<int>(s / interval));
  detail::add_edge(*this, *node, detail::collect_edge(*this));
  return detail::add_node<T>(*this, node);
}

template <class T>
DStream<int64_t> DStream<T>::countByWindow(Duration length, Duration slide) const {
  return window(length, slide).count();
}

template <class T>
template <class F>
DStream<T> DStream<T>::reduceByWindow(F f, Duration length, Duration slide) const {
  // Reduce each batch first, so the window keeps one value per batch.
  return reduce(f).window(length, slide).reduce(f);
}

template <class T>
template <class F>
DStream<T> DStream<T>::reduceByKeyAndWindow(F f, Duration length, Duration slide,
                                            int partitions) const {
  // Combine each batch by key first, so the window keeps combined pairs.
  return reduceByKey(f, partitions).window(length, slide).reduceByKey(f, partitions);
}

template <class T>
template <class F, class G>
DStream<T> DStream<T>::reduceByKeyAndWindow(F f, G inverse, Duration length, Duration slide,
                                            int partitions,
                                            std::function<bool(const T&)> filterFunc) const {
  static_assert(pair_traits<T>::value, "reduceByKeyAndWindow needs a DStream of std::pair<K, V>");
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  int64_t interval = job_->graph.batch_interval_ms;
  int64_t s = detail::checked_window("reduceByKeyAndWindow", length, slide, interval,
                                     base_->slide_batches * interval);
  int n = job_->partitions(partitions);
  auto node = std::make_shared<IncrementalWindowNode<K, V>>(
      n, length.count(), static_cast<int>(s / interval), f, inverse, std::move(filterFunc));
  detail::add_edge(*this, *node, detail::combine_by_key_edge(*this, f, n));
  return detail::add_node<T>(*this, node);
}

template <class T>
DStream<std::pair<T, int64_t>> DStream<T>::countByValueAndWindow(Duration length, Duration slide,
                                                                  int partitions) const {
  using C = std::pair<T, int64_t>;
  return map([](const T& x) { return C(x, 1); })
      .reduceByKeyAndWindow(std::plus<int64_t>(), std::minus<int64_t>(), length, slide, partitions,
                            [](const C& c) { return c.second != 0; });
}

}  // namespace trib
