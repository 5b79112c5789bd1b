// DStream<T>: a stream of batches of records of type T.
//
// Operations are declared once, before start(), and run for every batch.
// Narrow operations (map, flatMap, filter, mapPartitions, mapValues, ...)
// only compose a function; operations that need the whole batch (shuffles,
// union, windows, state, outputs) add a node to the job graph, and the
// composed function becomes the edge feeding that node.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dstream/combine_table.hpp"
#include "dstream/core/format.hpp"
#include "dstream/core/graph.hpp"
#include "dstream/core/partition_codec.hpp"
#include "dstream/nodes.hpp"
#include "dstream/core/text.hpp"
#include "io/text_file_sink.hpp"

namespace trib {

template <class T>
struct pair_traits : std::false_type {};
template <class K, class V>
struct pair_traits<std::pair<K, V>> : std::true_type {
  using key_type = K;
  using value_type = V;
};

// Settings the graph-building code needs from the context.
struct GraphSettings {
  std::ostream* print_out = nullptr;  // print() target; nullptr: stdout
};

// What DStreams share: the graph under construction.
struct JobBuilder {
  Graph graph;
  GraphSettings settings;
  bool started = false;

  NodePtr add(NodePtr n) {
    if (started)
      throw std::logic_error(
          "cannot add operation '" + n->name +
          "' after the StreamingContext has started: declare every "
          "transformation and output before start()");
    return graph.add(std::move(n));
  }
};

// A fused chain of narrow operations hands records on in chunks: one
// std::function call per chunk, and a tight loop over the chunk inside each
// operation, instead of one call per record per operation.
inline constexpr std::size_t kChunkRecords = 1024;

template <class T>
using ChunkEmit = std::function<void(const std::vector<T>&)>;

// Runs the fused narrow chain over one partition of the base node, handing
// the resulting records on chunk by chunk.
template <class T>
using Pipe = std::function<void(const Partition&, const TaskContext&, const ChunkEmit<T>&)>;

// Calls f on every record the pipe produces from partition `in`.
template <class T, class F>
void for_each_record(const Pipe<T>& pipe, const Partition& in, const TaskContext& ctx, F&& f) {
  pipe(in, ctx, [&](const std::vector<T>& chunk) {
    for (const auto& x : chunk) f(x);
  });
}

// Gathers an operation's output records into chunks for the next one.
template <class T>
class ChunkWriter {
 public:
  explicit ChunkWriter(const ChunkEmit<T>& emit) : emit_(emit) { chunk_.reserve(kChunkRecords); }
  template <class X>
  void push(X&& x) {
    chunk_.push_back(std::forward<X>(x));
    if (chunk_.size() == kChunkRecords) flush();
  }
  void flush() {
    if (chunk_.empty()) return;
    emit_(chunk_);
    chunk_.clear();
  }

 private:
  const ChunkEmit<T>& emit_;
  std::vector<T> chunk_;
};

template <class T>
class EventTimeStream;  // dstream/event_time.hpp

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
  using Pipe = trib::Pipe<T>;

  // `chain` names the narrow operations fused into `pipe`, for error messages.
  DStream(std::shared_ptr<JobBuilder> job, NodePtr base, Pipe pipe, std::string chain = "")
      : job_(std::move(job)),
        base_(std::move(base)),
        pipe_(std::move(pipe)),
        chain_(std::move(chain)) {}

  // A stream reading the records node `n` produces, unchanged.
  static DStream of_node(std::shared_ptr<JobBuilder> job, NodePtr n) {
    DStream s(std::move(job), std::move(n),
              [](const Partition& in, const TaskContext&, const ChunkEmit<T>& emit) {
                const auto& rows = in.rows<T>();
                if (!rows.empty()) emit(rows);
              });
    s.identity_ = true;
    return s;
  }

  // ---- narrow transformations -------------------------------------------

  template <class F>
  auto map(F f) const {
    using U = std::decay_t<std::invoke_result_t<F&, const T&>>;
    auto prev = pipe_;
    return DStream<U>(job_, base_,
                      [prev, f](const Partition& in, const TaskContext& ctx,
                                const ChunkEmit<U>& emit) {
                        ChunkWriter<U> out(emit);
                        for_each_record<T>(prev, in, ctx, [&](const T& x) { out.push(f(x)); });
                        out.flush();
                      },
                      chain_ + ".map");
  }

  // f returns any iterable container of the output records.
  template <class F>
  auto flatMap(F f) const {
    using C = std::decay_t<std::invoke_result_t<F&, const T&>>;
    using U = std::decay_t<decltype(*std::begin(std::declval<C&>()))>;
    auto prev = pipe_;
    return DStream<U>(job_, base_,
                      [prev, f](const Partition& in, const TaskContext& ctx,
                                const ChunkEmit<U>& emit) {
                        ChunkWriter<U> out(emit);
                        for_each_record<T>(prev, in, ctx, [&](const T& x) {
                          for (auto&& y : f(x)) out.push(y);
                        });
                        out.flush();
                      },
                      chain_ + ".flatMap");
  }

  template <class F>
  DStream<T> filter(F pred) const {
    auto prev = pipe_;
    return DStream<T>(job_, base_,
                      [prev, pred](const Partition& in, const TaskContext& ctx,
                                   const ChunkEmit<T>& emit) {
                        ChunkWriter<T> out(emit);
                        for_each_record<T>(prev, in, ctx, [&](const T& x) {
                          if (pred(x)) out.push(x);
                        });
                        out.flush();
                      },
                      chain_ + ".filter");
  }

  // f gets all records of one partition and returns the new records.
  template <class F>
  auto mapPartitions(F f) const {
    using C = std::decay_t<std::invoke_result_t<F&, const std::vector<T>&>>;
    using U = typename C::value_type;
    auto prev = pipe_;
    return DStream<U>(job_, base_,
                      [prev, f](const Partition& in, const TaskContext& ctx,
                                const ChunkEmit<U>& emit) {
                        std::vector<T> rows;
                        for_each_record<T>(prev, in, ctx, [&](const T& x) { rows.push_back(x); });
                        ChunkWriter<U> out(emit);
                        for (auto&& y : f(rows)) out.push(y);
                        out.flush();
                      },
                      chain_ + ".mapPartitions");
  }

  // For streams of pairs: apply f to the value, keep the key.
  template <class F>
  auto mapValues(F f) const {
    using K = typename pair_traits<T>::key_type;
    using V = typename pair_traits<T>::value_type;
    using W = std::decay_t<std::invoke_result_t<F&, const V&>>;
    return map([f](const T& kv) { return std::pair<K, W>(kv.first, f(kv.second)); });
  }

  template <class F>
  auto flatMapValues(F f) const {
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

  // ---- shuffles -------------------------------------------------------------

  // Merges the values of each key with f (associative and commutative).
  // Combines map-side, then hash-partitions into `partitions` reduce
  // partitions (0: the context's default).
  template <class F>
  DStream<T> reduceByKey(F f, int partitions = 0) const {
    static_assert(pair_traits<T>::value, "reduceByKey needs a DStream of std::pair<K, V>");
    using K = typename pair_traits<T>::key_type;
    using V = typename pair_traits<T>::value_type;
    int n = resolve_partitions(partitions);
    auto node = std::make_shared<ShuffleNode>(
        "reduceByKey", n,
        [f](const TaskContext&, std::vector<std::vector<Partition>> buckets) {
          CombineTableFor<K, V> table;
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
    add_edge(*node, Edge{base_, combine_by_key_edge(f, n)});
    inherit_slide(*node);
    return DStream<T>::of_node(job_, job_->add(node));
  }

  // Groups the values of each key: DStream<pair<K, vector<V>>>.
  auto groupByKey(int partitions = 0) const {
    static_assert(pair_traits<T>::value, "groupByKey needs a DStream of std::pair<K, V>");
    using K = typename pair_traits<T>::key_type;
    using V = typename pair_traits<T>::value_type;
    using G = std::pair<K, std::vector<V>>;
    int n = resolve_partitions(partitions);
    auto node = std::make_shared<ShuffleNode>(
        "groupByKey", n,
        [](const TaskContext&, std::vector<std::vector<Partition>> buckets) {
          std::unordered_map<K, std::vector<V>> m;
          for (const auto& b : buckets[0])
            for (const auto& kv : b.rows<T>()) m[kv.first].push_back(kv.second);
          return Partition::of(std::vector<G>(m.begin(), m.end()));
        });
    add_edge(*node, Edge{base_, hash_partition_edge(n)});
    inherit_slide(*node);
    return DStream<G>::of_node(job_, job_->add(node));
  }

  // A DStream with one record per batch: the number of records.
  DStream<int64_t> count() const {
    auto node = std::make_shared<ShuffleNode>(
        "count", 1,
        [](const TaskContext&, std::vector<std::vector<Partition>> buckets) {
          int64_t total = 0;
          for (const auto& b : buckets[0])
            for (auto c : b.rows<int64_t>()) total += c;
          return Partition::of(std::vector<int64_t>{total});
        });
    auto pipe = pipe_;
    add_edge(*node,
        Edge{base_, [pipe](const Partition& in, const TaskContext& ctx) {
               int64_t c = 0;
               for_each_record<T>(pipe, in, ctx, [&](const T&) { ++c; });
               return std::vector<Partition>{Partition::of(std::vector<int64_t>{c})};
             }});
    inherit_slide(*node);
    return DStream<int64_t>::of_node(job_, job_->add(node));
  }

  // A DStream with at most one record per batch: all records merged with f.
  // An empty batch stays empty, as in Spark.
  template <class F>
  DStream<T> reduce(F f) const {
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
    add_edge(*node,
        Edge{base_, [pipe, f](const Partition& in, const TaskContext& ctx) {
               std::vector<T> acc;
               for_each_record<T>(pipe, in, ctx, [&](const T& x) {
                 if (acc.empty()) acc.push_back(x);
                 else acc[0] = f(acc[0], x);
               });
               return std::vector<Partition>{Partition::of(std::move(acc))};
             }});
    inherit_slide(*node);
    return DStream<T>::of_node(job_, job_->add(node));
  }

  // How often each distinct record occurs: DStream<pair<T, int64_t>>.
  DStream<std::pair<T, int64_t>> countByValue(int partitions = 0) const {
    return map([](const T& x) { return std::pair<T, int64_t>(x, 1); })
        .reduceByKey([](int64_t a, int64_t b) { return a + b; }, partitions);
  }

  // Redistributes the records evenly over n partitions.
  DStream<T> repartition(int n) const {
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
    add_edge(*node,
        Edge{base_, [pipe, n](const Partition& in, const TaskContext& ctx) {
               std::vector<std::vector<T>> out(n);
               // Start each map task at its own offset so small partitions
               // do not all land in bucket 0.
               std::size_t i = static_cast<std::size_t>(ctx.partition);
               for_each_record<T>(pipe, in, ctx, [&](const T& x) { out[i++ % n].push_back(x); });
               std::vector<Partition> parts;
               for (auto& rows : out) parts.push_back(Partition::of(std::move(rows)));
               return parts;
             }});
    inherit_slide(*node);
    return DStream<T>::of_node(job_, job_->add(node));
  }

  // Any batch-to-batch function, given the whole batch and its time (ms).
  // Runs as one task per batch; the result is one partition.
  template <class F>
  auto transform(F f) const {
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
    add_edge(*node, Edge{base_, collect_edge()});
    inherit_slide(*node);
    return DStream<U>::of_node(job_, job_->add(node));
  }

  // The records of both streams (which must have the same slide).
  DStream<T> union_with(const DStream<T>& other) const {
    auto node = std::make_shared<Node>();
    node->name = "union";
    add_edge(*node, Edge{base_, collect_edge()});
    other.add_edge(*node, Edge{other.base(), other.collect_edge()});
    require_same_slide("union", other);
    inherit_slide(*node);
    return DStream<T>::of_node(job_, job_->add(node));
  }

  // ---- joins and two-stream operations (defined in dstream/join_ops.hpp) --
  // For DStream<pair<K, V>> joined with DStream<pair<K, W>>, hash-partitioned
  // by key into `partitions` (0: the context's default).
  template <class U>
  auto join(const DStream<U>& other, int partitions = 0) const;        // (K, (V, W))
  template <class U>
  auto leftOuterJoin(const DStream<U>& other, int partitions = 0) const;   // (K, (V, optional<W>))
  template <class U>
  auto rightOuterJoin(const DStream<U>& other, int partitions = 0) const;  // (K, (optional<V>, W))
  template <class U>
  auto fullOuterJoin(const DStream<U>& other, int partitions = 0) const;   // (K, (optional<V>, optional<W>))
  template <class U>
  auto cogroup(const DStream<U>& other, int partitions = 0) const;  // (K, (vector<V>, vector<W>))
  // f(const vector<T>&, const vector<U>&, int64_t batch_time_ms) -> container
  template <class U, class F>
  auto transformWith(const DStream<U>& other, F f) const;
  // The core the joins share (one shuffle of both sides into n buckets):
  // per key, emit(key, values here, values there, out).
  template <class R, class U, class Emit>
  DStream<R> cogroup_with(const DStream<U>& other, int partitions, const char* op, Emit emit) const {
    static_assert(pair_traits<T>::value && pair_traits<U>::value,
                  "joins need two DStreams of std::pair<K, V>");
    using K = typename pair_traits<T>::key_type;
    using V = typename pair_traits<T>::value_type;
    using W = typename pair_traits<U>::value_type;
    static_assert(std::is_same_v<K, typename pair_traits<U>::key_type>,
                  "joined streams must have the same key type");
    require_same_slide(op, other);
    int n = resolve_partitions(partitions);
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
    add_edge(*node, Edge{base_, hash_partition_edge(n)});
    other.add_edge(*node, Edge{other.base(), other.hash_partition_edge(n)});
    inherit_slide(*node);
    return DStream<R>::of_node(job_, job_->add(node));
  }


  // ---- windows (defined in dstream/window_ops.hpp) --------------------------
  // Lengths and slides must be multiples of the batch interval; a slide of 0
  // means the stream's own slide.
  using Duration = std::chrono::milliseconds;
  DStream<T> window(Duration length, Duration slide = Duration(0)) const;
  DStream<int64_t> countByWindow(Duration length, Duration slide = Duration(0)) const;
  template <class F>
  DStream<T> reduceByWindow(F f, Duration length, Duration slide = Duration(0)) const;
  template <class F>
  DStream<T> reduceByKeyAndWindow(F f, Duration length, Duration slide = Duration(0),
                                  int partitions = 0) const;
  // Incremental form (Spark's, with invReduceFunc and filterFunc): adds the
  // batches entering the window with f and removes those leaving it with
  // `inverse`. As in Spark, a key whose values all left the window stays, with
  // its inverse-reduced value (("a", 0) for counts), until `filterFunc`
  // (optional; true keeps the pair) drops it.
  template <class F, class G>
  DStream<T> reduceByKeyAndWindow(F f, G inverse, Duration length, Duration slide,
                                  int partitions = 0,
                                  std::function<bool(const T&)> filterFunc = nullptr) const;
  DStream<std::pair<T, int64_t>> countByValueAndWindow(Duration length,
                                                        Duration slide = Duration(0),
                                                        int partitions = 0) const;

  // ---- event time (defined in dstream/event_time.hpp) ------------------------
  // extract(const T&) -> event time in ms; the watermark trails the largest
  // event time by max_out_of_orderness; a partition without records for
  // idle_timeout (0: never) stops holding it back.
  template <class F>
  EventTimeStream<T> withTimestamps(F extract, Duration max_out_of_orderness,
                                    Duration idle_timeout = Duration(0)) const;

  // ---- state (defined in dstream/state_ops.hpp) ------------------------------
  // update(const vector<V>& new_values, const optional<S>& state) -> optional<S>;
  // returning nullopt removes the key. Gives DStream<pair<K, S>>.
  template <class F>
  auto updateStateByKey(F update, int partitions = 0) const;
  // With initial state (Spark's initialRDD): the keys start with these states
  // (a key listed twice keeps the later one) and get update() from the first batch.
  // `initial` holds std::pair<K, S>.
  template <class F, class KS>
  auto updateStateByKey(F update, int partitions, std::vector<KS> initial) const;
  // See StateSpec in dstream/state_ops.hpp.
  template <class Spec>
  auto mapWithState(const Spec& spec) const;

  // ---- custom actor operators (defined in dstream/actor_operator.hpp) ---------
  // Runs each partition through a user CAF actor; include that header to use.
  template <class Out, class SpawnFn>
  DStream<Out> actorOperator(SpawnFn spawn, int partitions = 0) const;

  // ---- outputs ----------------------------------------------------------------

  // Prints the first n records of every batch in Spark's pprint format.
  void print(std::size_t n = 10) const {
    std::ostream* out = job_->settings.print_out;
    auto node = std::make_shared<FunctionOutputNode>(
        "print", [n, out](int64_t t, const Dataset& parts) {
          std::ostringstream text;
          text << "-------------------------------------------\n"
               << "Time: " << format_batch_time(t) << "\n"
               << "-------------------------------------------\n";
          std::size_t shown = 0;
          bool more = false;
          for (const auto& p : parts) {
            for (const auto& x : p.rows<T>()) {
              if (shown == n) { more = true; break; }
              format_into(text, x);
              text << '\n';
              ++shown;
            }
            if (more) break;
          }
          if (more) text << "...\n";
          text << '\n';
          write_print_output(out, text.str());
        });
    // Each partition needs to send at most n + 1 records: enough to know
    // whether there are more than n.
    add_edge(*node, Edge{base_, collect_edge(n + 1)});
    inherit_slide(*node);
    add_output(node);
  }

  // Calls f(records, batch_time_ms) once per batch, in batch order, with all
  // records of the batch in partition order.
  template <class F>
  void foreachRDD(F f) const {
    auto node = std::make_shared<FunctionOutputNode>(
        "foreachRDD", [f](int64_t t, const Dataset& parts) {
          if (parts.size() == 1) return f(parts[0].rows<T>(), t);  // no copy
          std::size_t total = 0;
          for (const auto& p : parts) total += p.rows<T>().size();
          std::vector<T> rows;
          rows.reserve(total);
          for (const auto& p : parts)
            rows.insert(rows.end(), p.rows<T>().begin(), p.rows<T>().end());
          f(rows, t);
        });
    add_edge(*node, Edge{base_, collect_edge()});
    inherit_slide(*node);
    add_output(node);
  }

  // Writes every batch as the directory prefix-<batch time ms>[.suffix] with
  // one part file per partition, one record per line (io/text_file_sink.hpp).
  void saveAsTextFiles(const std::string& prefix, const std::string& suffix = "") const {
    if (prefix.empty()) throw std::invalid_argument("saveAsTextFiles: empty prefix");
    auto node = std::make_shared<FunctionOutputNode>(
        "saveAsTextFiles", [prefix, suffix](int64_t t, const Dataset&) {
          commit_batch_output(prefix, suffix, t);
        });
    auto pipe = pipe_;
    add_edge(*node, Edge{
        base_, [pipe, prefix, suffix](const Partition& in, const TaskContext& ctx) {
          std::ostringstream text;
          for_each_record<T>(pipe, in, ctx, [&](const T& x) {
            format_into(text, x);
            text << '\n';
          });
          write_batch_part(prefix, suffix, ctx.batch_time_ms, ctx.partition, text.str());
          return std::vector<Partition>{Partition{}};
        }});
    inherit_slide(*node);
    add_output(node);
  }

  // ---- plumbing other operations build on --------------------------------

  // An edge that materializes this stream's records of one partition
  // (at most `limit` of them) as one partition.
  EdgeFn collect_edge(std::size_t limit = SIZE_MAX) const {
    if (identity_ && limit == SIZE_MAX)
      return [](const Partition& in, const TaskContext&) {
        return std::vector<Partition>{in};
      };
    auto pipe = pipe_;
    return [pipe, limit](const Partition& in, const TaskContext& ctx) {
      std::vector<T> rows;
      rows.reserve(std::min(limit, in.size_hint()));  // exact for map, a bound for filter
      pipe(in, ctx, [&](const std::vector<T>& chunk) {
        std::size_t take = std::min(chunk.size(), limit - std::min(limit, rows.size()));
        rows.insert(rows.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(take));
      });
      return std::vector<Partition>{Partition::of(std::move(rows))};
    };
  }

  // Merges value v into m[k] with f (associative, commutative).
  template <class Map, class K, class V, class F>
  static void merge_value(Map& m, const K& k, const V& v, const F& f) {
    auto [it, fresh] = m.try_emplace(k, v);
    if (!fresh) it->second = f(it->second, v);
  }

  // An edge that merges the values of each key with f (map-side combining)
  // and hash-partitions the pairs by key into n buckets. Each key is hashed
  // once; the buckets carry the hashes to the reduce side.
  template <class F>
  EdgeFn combine_by_key_edge(F f, int n) const {
    using K = typename pair_traits<T>::key_type;
    using V = typename pair_traits<T>::value_type;
    auto pipe = pipe_;
    return [pipe, f, n](const Partition& in, const TaskContext& ctx) {
      std::vector<CombineTableFor<K, V>> tables(n);
      for_each_record<T>(pipe, in, ctx, [&](const T& kv) {
        uint64_t h = hash_key(kv.first);
        tables[n == 1 ? 0 : bucket_of(h, n)].merge(kv.first, h, kv.second, f);
      });
      std::vector<Partition> out;
      out.reserve(n);
      for (auto& table : tables) {
        std::vector<T> rows;
        std::vector<uint64_t> hashes;
        table.drain(rows, hashes);
        out.push_back(Partition::of(std::move(rows), std::move(hashes)));
      }
      return out;
    };
  }

  // An edge that hash-partitions pairs by key into n buckets, no combining.
  EdgeFn hash_partition_edge(int n) const {
    auto pipe = pipe_;
    return [pipe, n](const Partition& in, const TaskContext& ctx) {
      std::vector<std::vector<T>> out(n);
      for_each_record<T>(pipe, in, ctx, [&](const T& kv) { out[partition_of(kv.first, n)].push_back(kv); });
      std::vector<Partition> parts;
      parts.reserve(n);
      for (auto& rows : out) parts.push_back(Partition::of(std::move(rows)));
      return parts;
    };
  }

  // Adds an edge reading this stream to node n.
  void add_edge(Node& n, Edge e) const {
    e.input = lineage();
    n.edges.push_back(std::move(e));
  }

  int resolve_partitions(int partitions) const {
    if (partitions < 0) throw std::invalid_argument("partitions must be >= 0");
    return partitions > 0 ? partitions : job_->graph.default_partitions;
  }

  void inherit_slide(Node& n) const { n.slide_batches = base_->slide_batches; }

  template <class U>
  void require_same_slide(const char* op, const DStream<U>& other) const {
    if (base_->slide_batches != other.base()->slide_batches)
      throw std::invalid_argument(std::string(op) +
                                  ": both streams must have the same slide duration");
  }

  void add_output(const std::shared_ptr<OutputNode>& node) const {
    job_->add(node);
    job_->graph.outputs.push_back(node->id);
  }

  const NodePtr& base() const { return base_; }
  const std::shared_ptr<JobBuilder>& job() const { return job_; }
  const Pipe& pipe() const { return pipe_; }
  // "socketTextStream.flatMap.map": where this stream's records come from.
  std::string lineage() const { return base_->name + chain_; }

 private:
  std::shared_ptr<JobBuilder> job_;
  NodePtr base_;
  Pipe pipe_;
  std::string chain_;      // narrow operations fused into pipe_
  bool identity_ = false;  // pipe_ passes the base node's records unchanged
};

}  // namespace trib

// Operation families defined out of the class, one file each.
#include "dstream/join_ops.hpp"
#include "dstream/state_ops.hpp"
#include "dstream/window_ops.hpp"
#include "dstream/event_time.hpp"
