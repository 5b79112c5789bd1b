// FusedDStream: what map, flatMap and filter return. Included by
// dstream/dstream.hpp.
//
// A DStream's pipe is type-erased: each narrow operation writes its output
// records into a chunk for the next one (dstream/pipe.hpp). That costs a
// store and a load of every record between operations, a quarter of a word
// count's task time. A FusedDStream is such a DStream that also remembers
// its chain with the operations' own types: the chain's input pipe and one
// Step, a function object that runs the whole chain on one input record and
// hands each output record straight to a sink. reduceByKey (and anything
// else that knows the Step's type) compiles the chain and its own per-record
// work into one loop with nothing in between.
//
// Every other operation sees a plain DStream<T> (the base class), whose pipe
// runs the same chain chunk by chunk. Keeping the chain fused only needs the
// chain written as one expression, or kept in `auto`:
//
//   lines.flatMap(split_words).map(pair_with_one).reduceByKey(std::plus<>())
//
// A stream stored as a DStream<T> still works, through the chunked pipe.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "dstream/dstream.hpp"
#include "dstream/narrow_ops.hpp"

namespace trib {

// A DStream<T> made by running Step over each record of type S that
// `source` hands on.
template <class T, class S, class Step>
class FusedDStream : public DStream<T> {
 public:
  // chunked: the same chain as a plain DStream (the base class).
  // source_is_node: `source` passes its node's records unchanged.
  FusedDStream(DStream<T> chunked, Pipe<S> source, Step step, bool source_is_node)
      : DStream<T>(std::move(chunked)), fused_(Fused{std::move(source), std::move(step), source_is_node}) {}

  // `auto s = lines.map(f); s = s.filter(g);` keeps compiling: the stream
  // becomes the plain one assigned, and so do the chains built on it.
  FusedDStream& operator=(const DStream<T>& plain) {
    DStream<T>::operator=(plain);
    fused_.reset();
    return *this;
  }

  template <class F>
  auto map(F f) const {
    return then(detail::map_chunks(chunked(), f), detail::MapStep<F>{f});
  }
  template <class F>
  auto flatMap(F f) const {
    return then(detail::flat_map_chunks(chunked(), f), detail::FlatMapStep<F>{f});
  }
  template <class F>
  auto filter(F pred) const {
    return then(detail::filter_chunks(chunked(), pred), detail::FilterStep<F>{pred});
  }

  // As DStream<T>::reduceByKey, with the chain and the map-side combine in
  // one loop (dstream/shuffle_ops.hpp).
  template <class F>
  DStream<T> reduceByKey(F f, int partitions = 0) const;

 private:
  struct Fused {
    Pipe<S> source;
    Step step;
    bool source_is_node = false;
  };
  template <class U, class S2, class Step2>
  friend class FusedDStream;

  FusedDStream(DStream<T> chunked, std::optional<Fused> fused)
      : DStream<T>(std::move(chunked)), fused_(std::move(fused)) {}

  const DStream<T>& chunked() const { return *this; }

  template <class U, class Next>
  FusedDStream<U, S, detail::Then<Step, Next>> then(DStream<U> chunked, Next next) const {
    using Result = FusedDStream<U, S, detail::Then<Step, Next>>;
    std::optional<typename Result::Fused> fused;
    if (fused_)
      fused.emplace(typename Result::Fused{fused_->source, {fused_->step, std::move(next)}, fused_->source_is_node});
    return Result(std::move(chunked), std::move(fused));
  }

  // Calls sink(const T&) on every record the chain makes of partition `in`:
  // a function object holding just the chain (not the stream, which holds
  // the job that will hold the function).
  auto record_loop() const {
    return [source = fused_->source, step = fused_->step, whole = fused_->source_is_node](
               const Partition& in, const TaskContext& ctx, auto&& sink) {
      if constexpr (std::is_same_v<S, Text> && detail::SplitsWordsFirst<Step>::value) {
        if (whole) {  // a receiver's lines: split the uncut ones as they lie
          in.for_each_run_or_uncut<Text>(
              [&](const LineRun& run) { detail::split_words_of_bytes(step, run.data, run.bytes, sink); },
              [&](const std::vector<Text>& rows) { detail::split_words_in_runs(step, rows.data(), rows.size(), sink); });
          return;
        }
      }
      source(in, ctx, [&](Chunk<S> chunk) {
        if constexpr (std::is_same_v<S, Text> && detail::SplitsWordsFirst<Step>::value)
          detail::split_words_in_runs(step, chunk.data(), chunk.size(), sink);
        else
          for (const S& x : chunk) step(x, sink);
      });
    };
  }

  std::optional<Fused> fused_;  // empty once a plain stream was assigned
};

}  // namespace trib
