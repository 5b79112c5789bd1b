// DStream narrow operations: map, flatMap, filter, mapPartitions, mapValues,
// flatMapValues. Included by dstream/dstream.hpp.
//
// None adds a node: the whole chain runs in the task that feeds the next
// node. map, flatMap and filter come in two forms: chunked (one more loop
// over the chunks the stream's pipe hands on) and per record (a step of a
// fused chain, dstream/fused_stream.hpp); they return a FusedDStream that
// carries both.
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

// The chunked forms: each wraps the stream's pipe in one more loop over the
// chunks it hands on.
template <class T, class F>
DStream<std::decay_t<std::invoke_result_t<F&, const T&>>> map_chunks(const DStream<T>& s, F f) {
  using U = std::decay_t<std::invoke_result_t<F&, const T&>>;
  auto prev = StreamAccess::pipe(s);
  return StreamAccess::make<U>(
      StreamAccess::job(s), StreamAccess::base(s),
      [prev, f](const Partition& in, const TaskContext& ctx, const ChunkEmit<U>& emit) {
        ChunkWriter<U> out(emit);
        for_each_record<T>(prev, in, ctx, [&](const T& x) { out.push(f(x)); });
        out.flush();
      },
      StreamAccess::chain(s) + ".map");
}

template <class T, class F>
using flat_map_result_t = std::decay_t<decltype(*std::begin(
    std::declval<std::decay_t<std::invoke_result_t<F&, const T&>>&>()))>;

template <class T, class F>
DStream<flat_map_result_t<T, F>> flat_map_chunks(const DStream<T>& s, F f) {
  using U = flat_map_result_t<T, F>;
  auto prev = StreamAccess::pipe(s);
  return StreamAccess::make<U>(
      StreamAccess::job(s), StreamAccess::base(s),
      [prev, f](const Partition& in, const TaskContext& ctx, const ChunkEmit<U>& emit) {
        ChunkWriter<U> out(emit);
        for_each_record<T>(prev, in, ctx, [&](const T& x) {
          for_each_element(f(x), [&](auto&& y) { out.push(y); });
        });
        out.flush();
      },
      StreamAccess::chain(s) + ".flatMap");
}

template <class T, class F>
DStream<T> filter_chunks(const DStream<T>& s, F pred) {
  auto prev = StreamAccess::pipe(s);
  return StreamAccess::make<T>(
      StreamAccess::job(s), StreamAccess::base(s),
      [prev, pred](const Partition& in, const TaskContext& ctx, const ChunkEmit<T>& emit) {
        ChunkWriter<T> out(emit);
        for_each_record<T>(prev, in, ctx, [&](const T& x) {
          if (pred(x)) out.push(x);
        });
        out.flush();
      },
      StreamAccess::chain(s) + ".filter");
}

// The per-record forms, for a fused chain (dstream/fused_stream.hpp):
// step(x, sink) calls sink on every record the operation makes of x.
// Always inlined (TRIB_INLINE, pipe.hpp).
template <class F>
struct MapStep {
  F f;
  template <class X, class Sink>
  TRIB_INLINE void operator()(const X& x, Sink&& sink) const { sink(f(x)); }
};
template <class F>
struct FlatMapStep {
  F f;
  template <class X, class Sink>
  TRIB_INLINE void operator()(const X& x, Sink&& sink) const {
    for_each_element(f(x), [&](const auto& y) TRIB_INLINE { sink(y); });
  }
};
template <class F>
struct FilterStep {
  F pred;
  template <class X, class Sink>
  TRIB_INLINE void operator()(const X& x, Sink&& sink) const {
    if (pred(x)) sink(x);
  }
};
// First a, then b on each of a's records.
template <class A, class B>
struct Then {
  A a;
  B b;
  template <class X, class Sink>
  TRIB_INLINE void operator()(const X& x, Sink&& sink) const {
    a(x, [&](const auto& y) TRIB_INLINE { b(y, sink); });
  }
};

// A chain that starts with flatMap(split_words) over Text lines can split a
// run of lines that lie back to back in one block (a receiver's lines,
// apart by "\n" or "\r\n") in one scan: the words of the run are the
// words of its lines, in order, since what lies between them is
// whitespace. A scan per line cost a partial 64-byte block at each end.
template <class Step>
struct SplitsWordsFirst : std::false_type {};
template <>
struct SplitsWordsFirst<FlatMapStep<SplitWords>> : std::true_type {};
template <class A, class B>
struct SplitsWordsFirst<Then<A, B>> : SplitsWordsFirst<A> {};

// Runs the steps after the first (flatMap(split_words)) on its record y.
template <class X, class Sink>
inline TRIB_INLINE void after_first_step(const FlatMapStep<SplitWords>&, const X& y, Sink&& sink) {
  sink(y);
}
template <class A, class B, class X, class Sink>
inline TRIB_INLINE void after_first_step(const Then<A, B>& t, const X& y, Sink&& sink) {
  after_first_step(t.a, y, [&](const auto& z) TRIB_INLINE { t.b(z, sink); });
}

// Does line `next` follow the text ending at `end` with only a newline
// (or "\r\n") between? The bytes between two views are readable.
inline bool follows_after_newline(const char* end, const Text& next) {
  auto gap = reinterpret_cast<std::uintptr_t>(next.data()) - reinterpret_cast<std::uintptr_t>(end);
  return (gap == 1 && end[0] == '\n') || (gap == 2 && end[0] == '\r' && end[1] == '\n');
}

// step(line, sink) for every line of the back-to-back lines in
// data[0, n) (apart by "\n" or "\r\n"): their words are the words of the
// whole range, found in one scan with no line cut out. For a run of line
// views (split_words_in_runs) and for uncut lines (LineRun) alike.
// `data` is captured by value (and the combine's table by pointer, in
// shuffle_ops.hpp): by reference, the fused loop loaded each through the
// closure for every word (3 % of its samples over 10 M lines, 6 paired runs).
template <class Step, class Sink>
inline TRIB_INLINE void split_words_of_bytes(const Step& step, const char* data, std::size_t n, Sink&& sink) {
  for_each_word(data, n, [&, data](std::size_t start, std::size_t len) TRIB_INLINE {
    after_first_step(step, Text(data + start, len), sink);
  });
}

// step(line, sink) for every line, a run of back-to-back lines at a time.
template <class Step, class Sink>
void split_words_in_runs(const Step& step, const Text* lines, std::size_t n, Sink&& sink) {
  for (std::size_t i = 0; i < n;) {
    const char* begin = lines[i].data();
    const char* end = begin + lines[i].size();
    std::size_t j = i + 1;
    if (begin)
      for (; j < n && lines[j].data() && follows_after_newline(end, lines[j]); ++j)
        end = lines[j].data() + lines[j].size();
    split_words_of_bytes(step, begin, static_cast<std::size_t>(end - begin), sink);
    i = j;
  }
}
}  // namespace detail

// Each starts a fused chain whose input is this stream's pipe.
template <class T>
template <class F>
auto DStream<T>::map(F f) const {
  using U = std::decay_t<std::invoke_result_t<F&, const T&>>;
  return FusedDStream<U, T, detail::MapStep<F>>(detail::map_chunks(*this, f), pipe_,
                                                 detail::MapStep<F>{f}, identity_);
}

template <class T>
template <class F>
auto DStream<T>::flatMap(F f) const {
  using U = detail::flat_map_result_t<T, F>;
  return FusedDStream<U, T, detail::FlatMapStep<F>>(detail::flat_map_chunks(*this, f), pipe_,
                                                     detail::FlatMapStep<F>{f}, identity_);
}

template <class T>
template <class F>
auto DStream<T>::filter(F pred) const {
  return FusedDStream<T, T, detail::FilterStep<F>>(detail::filter_chunks(*this, pred), pipe_,
                                                    detail::FilterStep<F>{pred}, identity_);
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
