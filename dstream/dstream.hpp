// DStream<T>: a stream of batches of records of type T, and the operations
// on it, as in Spark Streaming.
//
// Operations are declared once, before start(), and run for every batch.
// Narrow operations (map, flatMap, filter, mapPartitions, mapValues, ...)
// only compose a function; operations that need the whole batch (shuffles,
// union, windows, state, outputs) add a node to the job graph, and the
// composed function becomes the edge feeding that node. This file is the
// list; each family's definitions live in the header named beside it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "dstream/core/graph.hpp"
#include "dstream/core/partition_codec.hpp"
#include "dstream/job_builder.hpp"
#include "dstream/pipe.hpp"

namespace trib {

template <class T>
struct pair_traits : std::false_type {};
template <class K, class V>
struct pair_traits<std::pair<K, V>> : std::true_type {
  using key_type = K;
  using value_type = V;
};

template <class T>
class EventTimeStream;  // dstream/event_time.hpp
template <class T, class S, class Step>
class FusedDStream;  // dstream/fused_stream.hpp
namespace detail {
struct StreamAccess;  // dstream/stream_access.hpp
}

template <class T>
class DStream {
  // Records travel between processes and into checkpoints as Cereal bytes.
  static_assert(serializable_record_v<T>,
                "Tributary: records need Cereal serialization. Give the record type a member "
                "`template <class Archive> void serialize(Archive& ar) { ar(field1, field2); }` "
                "(or a free serialize(Archive&, T&)), and for standard containers other than "
                "string, vector, map, unordered_map, pair, tuple and optional include the matching "
                "<cereal/types/...hpp>");

 public:
  using value_type = T;
  using Duration = std::chrono::milliseconds;

  // ---- narrow transformations (dstream/narrow_ops.hpp) -----------------------
  // These three return a FusedDStream (a DStream that also keeps the chain
  // compiled as one loop, for reduceByKey: see dstream/fused_stream.hpp).
  template <class F> auto map(F f) const;                // f(const T&) -> U
  template <class F> auto flatMap(F f) const;            // f(const T&) -> any iterable of U
  template <class F> auto filter(F pred) const;          // keeps x where pred(x)
  template <class F> auto mapPartitions(F f) const;      // f(const vector<T>&) -> container of U
  template <class F> auto mapValues(F f) const;          // pairs: (k, f(v))
  template <class F> auto flatMapValues(F f) const;      // pairs: (k, w) for w in f(v)

  // ---- shuffles and whole-batch operations (dstream/shuffle_ops.hpp) ---------
  // `partitions`: reduce partitions, 0: the context's default.
  template <class F>
  DStream<T> reduceByKey(F f, int partitions = 0) const;  // f associative, commutative; combines map-side
  auto groupByKey(int partitions = 0) const;              // (K, vector<V>)
  DStream<int64_t> count() const;                         // one record per batch: the count
  template <class F>
  DStream<T> reduce(F f) const;                           // at most one record per batch
  DStream<std::pair<T, int64_t>> countByValue(int partitions = 0) const;
  DStream<T> repartition(int n) const;                    // spreads the records evenly over n
  template <class F>
  auto transform(F f) const;                   // f(const vector<T>&, int64_t batch_time_ms) -> container
  DStream<T> union_with(const DStream<T>& other) const;  // both streams' records (same slide)

  // ---- joins and two-stream operations (dstream/join_ops.hpp) ----------------
  // DStream<pair<K, V>> with DStream<pair<K, W>>, hash-partitioned by key.
  template <class U> auto join(const DStream<U>& other, int partitions = 0) const;            // (K, (V, W))
  template <class U> auto leftOuterJoin(const DStream<U>& other, int partitions = 0) const;   // (K, (V, optional<W>))
  template <class U> auto rightOuterJoin(const DStream<U>& other, int partitions = 0) const;  // (K, (optional<V>, W))
  template <class U> auto fullOuterJoin(const DStream<U>& other, int partitions = 0) const;   // (K, (optional<V>, optional<W>))
  template <class U> auto cogroup(const DStream<U>& other, int partitions = 0) const;         // (K, (vector<V>, vector<W>))
  // f(const vector<T>&, const vector<U>&, int64_t batch_time_ms) -> container
  template <class U, class F> auto transformWith(const DStream<U>& other, F f) const;

  // ---- windows (dstream/window_ops.hpp) --------------------------------------
  // Lengths and slides are multiples of the batch interval; slide 0: the stream's own.
  DStream<T> window(Duration length, Duration slide = Duration(0)) const;
  DStream<int64_t> countByWindow(Duration length, Duration slide = Duration(0)) const;
  template <class F>
  DStream<T> reduceByWindow(F f, Duration length, Duration slide = Duration(0)) const;
  template <class F>
  DStream<T> reduceByKeyAndWindow(F f, Duration length, Duration slide = Duration(0),
                                  int partitions = 0) const;
  // Incremental (Spark's invReduceFunc): adds entering batches with f, removes
  // leaving ones with `inverse`; filterFunc (true keeps) drops emptied keys.
  template <class F, class G>
  DStream<T> reduceByKeyAndWindow(F f, G inverse, Duration length, Duration slide,
                                  int partitions = 0,
                                  std::function<bool(const T&)> filterFunc = nullptr) const;
  DStream<std::pair<T, int64_t>> countByValueAndWindow(Duration length, Duration slide = Duration(0),
                                                        int partitions = 0) const;

  // ---- event time (dstream/event_time.hpp) -----------------------------------
  // extract(const T&) -> event time in ms; the watermark trails the largest
  // event time by max_out_of_orderness; idle_timeout (0: never) unblocks it.
  template <class F>
  EventTimeStream<T> withTimestamps(F extract, Duration max_out_of_orderness,
                                    Duration idle_timeout = Duration(0)) const;

  // ---- state (dstream/state_ops.hpp) -----------------------------------------
  // update(const vector<V>& new_values, const optional<S>& state) -> optional<S>
  // (nullopt removes the key): DStream<pair<K, S>>. `initial`: vector<pair<K, S>>.
  template <class F> auto updateStateByKey(F update, int partitions = 0) const;
  template <class F, class KS>
  auto updateStateByKey(F update, int partitions, std::vector<KS> initial) const;
  template <class Spec> auto mapWithState(const Spec& spec) const;  // see StateSpec

  // ---- custom actor operators (include dstream/actor_operator.hpp) ------------
  template <class Out, class SpawnFn>
  DStream<Out> actorOperator(SpawnFn spawn, int partitions = 0) const;

  // ---- outputs (dstream/output_ops.hpp) --------------------------------------
  void print(std::size_t n = 10) const;  // the first n records per batch, Spark's pprint format
  // f(const vector<T>& records, int64_t batch_time_ms) once per batch, in batch order.
  template <class F> void foreachRDD(F f) const;
  // Directory prefix-<batch time ms>[.suffix], one part file per partition (io/text_file_sink.hpp).
  void saveAsTextFiles(const std::string& prefix, const std::string& suffix = "") const;

 private:
  friend struct detail::StreamAccess;
  DStream(std::shared_ptr<JobBuilder> job, NodePtr base, Pipe<T> pipe, std::string chain,
          bool identity)
      : job_(std::move(job)), base_(std::move(base)), pipe_(std::move(pipe)),
        chain_(std::move(chain)), identity_(identity) {}

  std::shared_ptr<JobBuilder> job_;
  NodePtr base_;           // the node whose records the pipe reads
  Pipe<T> pipe_;           // the narrow operations since base_, fused
  std::string chain_;      // their names (".flatMap.map"), for error messages
  bool identity_ = false;  // pipe_ passes base_'s records unchanged
};

}  // namespace trib

// The definitions, one family per file.
#include "dstream/stream_access.hpp"
#include "dstream/narrow_ops.hpp"
#include "dstream/fused_stream.hpp"
#include "dstream/shuffle_ops.hpp"
#include "dstream/output_ops.hpp"
#include "dstream/join_ops.hpp"
#include "dstream/state_ops.hpp"
#include "dstream/window_ops.hpp"
#include "dstream/event_time.hpp"
