// DStream narrow operations: map, flatMap, filter, mapPartitions, mapValues,
// flatMapValues. Included by dstream/dstream.hpp.
//
// None adds a node: each wraps the stream's pipe in one more loop over the
// chunks it hands on, and the whole chain runs in the task that feeds the
// next node.
#pragma once

#include <iterator>
#include <type_traits>
#include <utility>
#include <vector>

#include "dstream/dstream.hpp"

namespace trib {

namespace detail {
struct IgnoreElement {
  template <class X>
  void operator()(X&&) const {}
};
template <class C, class = void>
struct has_for_each : std::false_type {};
template <class C>
struct has_for_each<C, std::void_t<decltype(std::declval<const C&>().for_each(IgnoreElement{}))>>
    : std::true_type {};

// Calls g on each element of c; through c.for_each where c has one (a
// WordRange scans its text in one loop), else by iterating.
template <class C, class G>
void for_each_element(const C& c, G&& g) {
  if constexpr (has_for_each<C>::value) c.for_each(g);
  else
    for (auto&& y : c) g(y);
}
}  // namespace detail

template <class T>
template <class F>
auto DStream<T>::map(F f) const {
  using U = std::decay_t<std::invoke_result_t<F&, const T&>>;
  auto prev = pipe_;
  return detail::StreamAccess::make<U>(
      job_, base_,
      [prev, f](const Partition& in, const TaskContext& ctx, const ChunkEmit<U>& emit) {
        ChunkWriter<U> out(emit);
        for_each_record<T>(prev, in, ctx, [&](const T& x) { out.push(f(x)); });
        out.flush();
      },
      chain_ + ".map");
}

template <class T>
template <class F>
auto DStream<T>::flatMap(F f) const {
  using C = std::decay_t<std::invoke_result_t<F&, const T&>>;
  using U = std::decay_t<decltype(*std::begin(std::declval<C&>()))>;
  auto prev = pipe_;
  return detail::StreamAccess::make<U>(
      job_, base_,
      [prev, f](const Partition& in, const TaskContext& ctx, const ChunkEmit<U>& emit) {
        ChunkWriter<U> out(emit);
        for_each_record<T>(prev, in, ctx, [&](const T& x) {
          detail::for_each_element(f(x), [&](auto&& y) { out.push(y); });
        });
        out.flush();
      },
      chain_ + ".flatMap");
}

template <class T>
template <class F>
DStream<T> DStream<T>::filter(F pred) const {
  auto prev = pipe_;
  return detail::StreamAccess::make<T>(
      job_, base_,
      [prev, pred](const Partition& in, const TaskContext& ctx, const ChunkEmit<T>& emit) {
        ChunkWriter<T> out(emit);
        for_each_record<T>(prev, in, ctx, [&](const T& x) {
          if (pred(x)) out.push(x);
        });
        out.flush();
      },
      chain_ + ".filter");
}

template <class T>
template <class F>
auto DStream<T>::mapPartitions(F f) const {
  using C = std::decay_t<std::invoke_result_t<F&, const std::vector<T>&>>;
  using U = typename C::value_type;
  auto prev = pipe_;
  return detail::StreamAccess::make<U>(
      job_, base_,
      [prev, f](const Partition& in, const TaskContext& ctx, const ChunkEmit<U>& emit) {
        std::vector<T> rows;
        for_each_record<T>(prev, in, ctx, [&](const T& x) { rows.push_back(x); });
        ChunkWriter<U> out(emit);
        for (auto&& y : f(rows)) out.push(y);
        out.flush();
      },
      chain_ + ".mapPartitions");
}

template <class T>
template <class F>
auto DStream<T>::mapValues(F f) const {
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  using W = std::decay_t<std::invoke_result_t<F&, const V&>>;
  return map([f](const T& kv) { return std::pair<K, W>(kv.first, f(kv.second)); });
}

template <class T>
template <class F>
auto DStream<T>::flatMapValues(F f) const {
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  using C = std::decay_t<std::invoke_result_t<F&, const V&>>;
  using W = std::decay_t<decltype(*std::begin(std::declval<C&>()))>;
  return flatMap([f](const T& kv) {
    std::vector<std::pair<K, W>> out;
    for (const auto& w : f(kv.second)) out.emplace_back(kv.first, w);
    return out;
  });
}

}  // namespace trib
