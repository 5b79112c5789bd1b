// DStream joins, cogroup and transformWith. Included by dstream/dstream.hpp.
//
// Every join is one shuffle: both streams hash-partition their pairs by key
// into the same n buckets, and reduce partition r groups bucket r of both
// sides by key (a cogroup); each join variant only decides what a key's two
// value lists turn into.
#pragma once

#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dstream/dstream.hpp"

namespace trib {

template <class T>
template <class U>
auto DStream<T>::cogroup(const DStream<U>& other, int partitions) const {
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  using W = typename pair_traits<U>::value_type;
  using R = std::pair<K, std::pair<std::vector<V>, std::vector<W>>>;
  return cogroup_with<R>(other, partitions, "cogroup",
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
  return cogroup_with<R>(other, partitions, "join",
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
  return cogroup_with<R>(other, partitions, "leftOuterJoin",
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
  return cogroup_with<R>(other, partitions, "rightOuterJoin",
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
  return cogroup_with<R>(other, partitions, "fullOuterJoin",
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
  require_same_slide("transformWith", other);
  auto node = std::make_shared<ShuffleNode>(
      "transformWith", 1, [f](const TaskContext& ctx, std::vector<std::vector<Partition>> buckets) {
        std::vector<T> left;
        std::vector<U> right;
        for (const auto& b : buckets[0]) left.insert(left.end(), b.rows<T>().begin(), b.rows<T>().end());
        for (const auto& b : buckets[1]) right.insert(right.end(), b.rows<U>().begin(), b.rows<U>().end());
        C result = f(left, right, ctx.batch_time_ms);
        return Partition::of(std::vector<R>(result.begin(), result.end()));
      });
  add_edge(*node, Edge{base_, collect_edge()});
  other.add_edge(*node, Edge{other.base(), other.collect_edge()});
  inherit_slide(*node);
  return DStream<R>::of_node(job_, job_->add(node));
}

}  // namespace trib
