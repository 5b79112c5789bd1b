// DStream shuffles and whole-batch operations: reduceByKey, groupByKey,
// count, reduce, countByValue, repartition, transform, union. Included by
// dstream/dstream.hpp.
//
// Each adds one node: the stream's pipe becomes the edge's map side (writing
// one bucket per reduce partition), the node's reduce function merges bucket
// r of every map task into output partition r.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dstream/combine_table.hpp"
#include "dstream/core/hashing.hpp"
#include "dstream/dstream.hpp"
#include "dstream/nodes.hpp"

namespace trib {

namespace detail {
// reduceByKey's node, fed by `edge`: the map side, combining into buckets.
template <class T, class F>
DStream<T> reduce_by_key(const DStream<T>& s, F f, int n, CombiningEdge edge) {
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  auto node = std::make_shared<ShuffleNode>(
      "reduceByKey", n,
      [f](const TaskContext&, std::vector<std::vector<Partition>> buckets) {
        CombineTableFor<K, V> table;
        // At least as many keys as the largest bucket has.
        std::size_t largest = 0;
        for (const auto& b : buckets[0]) largest = std::max(largest, b.rows<T>().size());
        table.reserve(largest);
        for (const auto& b : buckets[0]) {
          const auto& rows = b.rows<T>();
          const auto& hashes = b.hashes<T>();  // empty when the bucket came as bytes
          for (std::size_t i = 0; i < rows.size(); ++i)
            table.merge(rows[i].first, hashes.empty() ? hash_key(rows[i].first) : hashes[i],
                        rows[i].second, f);
        }
        std::vector<T> rows;
        std::vector<uint64_t> hashes;
        table.drain(rows, hashes);
        return Partition::of(std::move(rows), std::move(hashes));
      });
  add_edge(s, *node, std::move(edge));
  inherit_slide(s, *node);
  return add_node<T>(s, node);
}
}  // namespace detail

// Merges the values of each key with f (associative and commutative).
// Combines map-side, then hash-partitions into `partitions` reduce
// partitions (0: the context's default).
template <class T>
template <class F>
DStream<T> DStream<T>::reduceByKey(F f, int partitions) const {
  static_assert(pair_traits<T>::value, "reduceByKey needs a DStream of std::pair<K, V>");
  int n = job_->partitions(partitions);
  return detail::reduce_by_key(*this, f, n, detail::combine_by_key_edge(*this, f, n));
}

// The same with the narrow chain before it run record by record into the
// map-side table: no chunks between the operations.
template <class T, class S, class Step>
template <class F>
DStream<T> FusedDStream<T, S, Step>::reduceByKey(F f, int partitions) const {
  static_assert(pair_traits<T>::value, "reduceByKey needs a DStream of std::pair<K, V>");
  if (!fused_) return DStream<T>::reduceByKey(f, partitions);
  int n = detail::resolve_partitions(*this, partitions);
  auto feed = [loop = record_loop()](const Partition& in, const TaskContext& ctx, auto& table,
                                     const F& f) {
    auto* t = &table;  // by value in the closure: see split_words_of_bytes
    loop(in, ctx, [t, &f](const T& kv) TRIB_INLINE { t->merge(kv.first, kv.second, f); });  // see MapStep
  };
  return detail::reduce_by_key(*this, f, n, detail::combine_by_key_edge<T>(feed, f, n));
}

// Groups the values of each key: DStream<pair<K, vector<V>>>.
template <class T>
auto DStream<T>::groupByKey(int partitions) const {
  static_assert(pair_traits<T>::value, "groupByKey needs a DStream of std::pair<K, V>");
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  using G = std::pair<K, std::vector<V>>;
  int n = job_->partitions(partitions);
  auto node = std::make_shared<ShuffleNode>(
      "groupByKey", n,
      [](const TaskContext&, std::vector<std::vector<Partition>> buckets) {
        std::unordered_map<K, std::vector<V>> m;
        for (const auto& b : buckets[0])
          for (const auto& kv : b.rows<T>()) m[kv.first].push_back(kv.second);
        return Partition::of(std::vector<G>(m.begin(), m.end()));
      });
  detail::add_edge(*this, *node, detail::hash_partition_edge(*this, n));
  detail::inherit_slide(*this, *node);
  return detail::add_node<G>(*this, node);
}

// A DStream with one record per batch: the number of records.
template <class T>
DStream<int64_t> DStream<T>::count() const {
  auto node = std::make_shared<ShuffleNode>(
      "count", 1,
      [](const TaskContext&, std::vector<std::vector<Partition>> buckets) {
        int64_t total = 0;
        for (const auto& b : buckets[0])
          for (auto c : b.rows<int64_t>()) total += c;
        return Partition::of(std::vector<int64_t>{total});
      });
  auto pipe = pipe_;
  detail::add_edge(*this, *node, [pipe](const Partition& in, const TaskContext& ctx) {
    int64_t c = 0;
    for_each_record<T>(pipe, in, ctx, [&](const T&) { ++c; });
    return std::vector<Partition>{Partition::of(std::vector<int64_t>{c})};
  });
  detail::inherit_slide(*this, *node);
  return detail::add_node<int64_t>(*this, node);
}

// A DStream with at most one record per batch: all records merged with f.
// An empty batch stays empty, as in Spark.
template <class T>
template <class F>
DStream<T> DStream<T>::reduce(F f) const {
  auto node = std::make_shared<ShuffleNode>(
      "reduce", 1,
      [f](const TaskContext&, std::vector<std::vector<Partition>> buckets) {
        std::vector<T> acc;
        for (const auto& b : buckets[0])
          for (const auto& x : b.rows<T>())
            if (acc.empty()) acc.push_back(x);
            else acc[0] = f(acc[0], x);
        return Partition::of(std::move(acc));
      });
  auto pipe = pipe_;
  detail::add_edge(*this, *node, [pipe, f](const Partition& in, const TaskContext& ctx) {
    std::vector<T> acc;
    for_each_record<T>(pipe, in, ctx, [&](const T& x) {
      if (acc.empty()) acc.push_back(x);
      else acc[0] = f(acc[0], x);
    });
    return std::vector<Partition>{Partition::of(std::move(acc))};
  });
  detail::inherit_slide(*this, *node);
  return detail::add_node<T>(*this, node);
}

// How often each distinct record occurs: DStream<pair<T, int64_t>>.
template <class T>
DStream<std::pair<T, int64_t>> DStream<T>::countByValue(int partitions) const {
  return map([](const T& x) { return std::pair<T, int64_t>(x, 1); })
      .reduceByKey([](int64_t a, int64_t b) { return a + b; }, partitions);
}

// Redistributes the records evenly over n partitions.
template <class T>
DStream<T> DStream<T>::repartition(int n) const {
  if (n < 1) throw std::invalid_argument("repartition: need at least 1 partition");
  auto node = std::make_shared<ShuffleNode>(
      "repartition", n,
      [](const TaskContext&, std::vector<std::vector<Partition>> buckets) {
        std::vector<T> rows;
        for (const auto& b : buckets[0])
          rows.insert(rows.end(), b.rows<T>().begin(), b.rows<T>().end());
        return Partition::of(std::move(rows));
      });
  auto pipe = pipe_;
  detail::add_edge(*this, *node, [pipe, n](const Partition& in, const TaskContext& ctx) {
    std::vector<std::vector<T>> out(n);
    // Start each map task at its own offset so small partitions
    // do not all land in bucket 0.
    std::size_t i = static_cast<std::size_t>(ctx.partition);
    for_each_record<T>(pipe, in, ctx, [&](const T& x) { out[i++ % n].push_back(x); });
    std::vector<Partition> parts;
    for (auto& rows : out) parts.push_back(Partition::of(std::move(rows)));
    return parts;
  });
  detail::inherit_slide(*this, *node);
  return detail::add_node<T>(*this, node);
}

// Any batch-to-batch function, given the whole batch and its time (ms).
// Runs as one task per batch; the result is one partition.
template <class T>
template <class F>
auto DStream<T>::transform(F f) const {
  using C = std::decay_t<
      std::invoke_result_t<F&, const std::vector<T>&, int64_t>>;
  using U = typename C::value_type;
  auto node = std::make_shared<ShuffleNode>(
      "transform", 1,
      [f](const TaskContext& ctx, std::vector<std::vector<Partition>> buckets) {
        std::vector<T> rows;
        for (const auto& b : buckets[0])
          rows.insert(rows.end(), b.rows<T>().begin(), b.rows<T>().end());
        C result = f(rows, ctx.batch_time_ms);
        return Partition::of(std::vector<U>(result.begin(), result.end()));
      });
  detail::add_edge(*this, *node, detail::collect_edge(*this));
  detail::inherit_slide(*this, *node);
  return detail::add_node<U>(*this, node);
}

// The records of both streams (which must have the same slide).
template <class T>
DStream<T> DStream<T>::union_with(const DStream<T>& other) const {
  auto node = std::make_shared<Node>();
  node->name = "union";
  detail::add_edge(*this, *node, detail::collect_edge(*this));
  detail::add_edge(other, *node, detail::collect_edge(other));
  detail::require_same_slide("union", *this, other);
  detail::inherit_slide(*this, *node);
  return detail::add_node<T>(*this, node);
}

}  // namespace trib
