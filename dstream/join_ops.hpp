// DStream joins, cogroup and transformWith. Included by dstream/dstream.hpp.
//
// Every join is one shuffle: both streams hash-partition their pairs by key
// into the same n buckets, and reduce partition r groups bucket r of both
// sides by key (a cogroup); each join variant only decides what a key's two
// value lists turn into.
#pragma once

#include <memory>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dstream/dstream.hpp"
#include "dstream/nodes.hpp"

namespace trib {

namespace detail {

// The core the joins share (one shuffle of both sides into n buckets):
// per key, emit(key, values here, values there, out).
template <class R, class T, class U, class Emit>
DStream<R> cogroup_with(const DStream<T>& left, const DStream<U>& right, int partitions,
                        const char* op, Emit emit) {
  static_assert(pair_traits<T>::value && pair_traits<U>::value,
                "joins need two DStreams of std::pair<K, V>");
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  using W = typename pair_traits<U>::value_type;
  static_assert(std::is_same_v<K, typename pair_traits<U>::key_type>,
                "joined streams must have the same key type");
  require_same_slide(op, left, right);
  int n = resolve_partitions(left, partitions);
  auto node = std::make_shared<ShuffleNode>(
      op, n, [emit](const TaskContext&, std::vector<std::vector<Partition>> buckets) {
        // Keys in first-seen order would need more memory; shuffles make
        // no order promise, as in Spark.
        std::unordered_map<K, std::pair<std::vector<V>, std::vector<W>>> groups;
        for (const auto& b : buckets[0])
          for (const auto& kv : b.rows<T>()) groups[kv.first].first.push_back(kv.second);
        for (const auto& b : buckets[1])
          for (const auto& kw : b.rows<U>()) groups[kw.first].second.push_back(kw.second);
        std::vector<R> out;
        for (const auto& [k, g] : groups) emit(k, g.first, g.second, out);
        return Partition::of(std::move(out));
      });
  add_edge(left, *node, hash_partition_edge(left, n));
  add_edge(right, *node, hash_partition_edge(right, n));
  inherit_slide(left, *node);
  return add_node<R>(left, node);
}

}  // namespace detail

template <class T>
template <class U>
auto DStream<T>::cogroup(const DStream<U>& other, int partitions) const {
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  using W = typename pair_traits<U>::value_type;
  using R = std::pair<K, std::pair<std::vector<V>, std::vector<W>>>;
  return detail::cogroup_with<R>(*this, other, partitions, "cogroup",
                         [](const K& k, const std::vector<V>& vs, const std::vector<W>& ws,
                            std::vector<R>& out) { out.emplace_back(k, std::make_pair(vs, ws)); });
}

template <class T>
template <class U>
auto DStream<T>::join(const DStream<U>& other, int partitions) const {
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  using W = typename pair_traits<U>::value_type;
  using R = std::pair<K, std::pair<V, W>>;
  return detail::cogroup_with<R>(*this, other, partitions, "join",
                         [](const K& k, const std::vector<V>& vs, const std::vector<W>& ws,
                            std::vector<R>& out) {
                           for (const auto& v : vs)
                             for (const auto& w : ws) out.emplace_back(k, std::make_pair(v, w));
                         });
}

template <class T>
template <class U>
auto DStream<T>::leftOuterJoin(const DStream<U>& other, int partitions) const {
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  using W = typename pair_traits<U>::value_type;
  using R = std::pair<K, std::pair<V, std::optional<W>>>;
  return detail::cogroup_with<R>(*this, other, partitions, "leftOuterJoin",
                         [](const K& k, const std::vector<V>& vs, const std::vector<W>& ws,
                            std::vector<R>& out) {
                           for (const auto& v : vs) {
                             if (ws.empty()) out.emplace_back(k, std::make_pair(v, std::optional<W>()));
                             for (const auto& w : ws) out.emplace_back(k, std::make_pair(v, std::optional<W>(w)));
                           }
                         });
}

template <class T>
template <class U>
auto DStream<T>::rightOuterJoin(const DStream<U>& other, int partitions) const {
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  using W = typename pair_traits<U>::value_type;
  using R = std::pair<K, std::pair<std::optional<V>, W>>;
  return detail::cogroup_with<R>(*this, other, partitions, "rightOuterJoin",
                         [](const K& k, const std::vector<V>& vs, const std::vector<W>& ws,
                            std::vector<R>& out) {
                           for (const auto& w : ws) {
                             if (vs.empty()) out.emplace_back(k, std::make_pair(std::optional<V>(), w));
                             for (const auto& v : vs) out.emplace_back(k, std::make_pair(std::optional<V>(v), w));
                           }
                         });
}

template <class T>
template <class U>
auto DStream<T>::fullOuterJoin(const DStream<U>& other, int partitions) const {
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  using W = typename pair_traits<U>::value_type;
  using OV = std::optional<V>;
  using OW = std::optional<W>;
  using R = std::pair<K, std::pair<OV, OW>>;
  return detail::cogroup_with<R>(*this, other, partitions, "fullOuterJoin",
                         [](const K& k, const std::vector<V>& vs, const std::vector<W>& ws,
                            std::vector<R>& out) {
                           if (vs.empty())
                             for (const auto& w : ws) out.emplace_back(k, std::make_pair(OV(), OW(w)));
                           if (ws.empty())
                             for (const auto& v : vs) out.emplace_back(k, std::make_pair(OV(v), OW()));
                           for (const auto& v : vs)
                             for (const auto& w : ws) out.emplace_back(k, std::make_pair(OV(v), OW(w)));
                         });
}

template <class T>
template <class U, class F>
auto DStream<T>::transformWith(const DStream<U>& other, F f) const {
  using C = std::decay_t<
      std::invoke_result_t<F&, const std::vector<T>&, const std::vector<U>&, int64_t>>;
  using R = typename C::value_type;
  detail::require_same_slide("transformWith", *this, other);
  auto node = std::make_shared<ShuffleNode>(
      "transformWith", 1, [f](const TaskContext& ctx, std::vector<std::vector<Partition>> buckets) {
        std::vector<T> left;
        std::vector<U> right;
        for (const auto& b : buckets[0]) left.insert(left.end(), b.rows<T>().begin(), b.rows<T>().end());
        for (const auto& b : buckets[1]) right.insert(right.end(), b.rows<U>().begin(), b.rows<U>().end());
        C result = f(left, right, ctx.batch_time_ms);
        return Partition::of(std::vector<R>(result.begin(), result.end()));
      });
  detail::add_edge(*this, *node, detail::collect_edge(*this));
  detail::add_edge(other, *node, detail::collect_edge(other));
  detail::inherit_slide(*this, *node);
  return detail::add_node<R>(*this, node);
}

}  // namespace trib
