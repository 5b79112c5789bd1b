// The plumbing operators are built from, kept off DStream<T>'s public face:
// a DStream is (job, base node, fused pipe); operators that need the whole
// batch add a node fed by an edge built here from the stream's pipe.
// Included by dstream/dstream.hpp; for operator files, not for users.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "dstream/combine_table.hpp"
#include "dstream/core/hashing.hpp"
#include "dstream/dstream.hpp"

namespace trib::detail {

// The one friend of DStream<T>: reads and makes streams.
struct StreamAccess {
  // `chain` names the narrow operations fused into `pipe`, for error messages;
  // `identity`: the pipe passes the base node's records unchanged.
  template <class T>
  static DStream<T> make(std::shared_ptr<JobBuilder> job, NodePtr base, Pipe<T> pipe,
                         std::string chain = "", bool identity = false) {
    return DStream<T>(std::move(job), std::move(base), std::move(pipe), std::move(chain), identity);
  }
  template <class T>
  static const std::shared_ptr<JobBuilder>& job(const DStream<T>& s) { return s.job_; }
  template <class T>
  static const NodePtr& base(const DStream<T>& s) { return s.base_; }
  template <class T>
  static const Pipe<T>& pipe(const DStream<T>& s) { return s.pipe_; }
  template <class T>
  static bool identity(const DStream<T>& s) { return s.identity_; }
  template <class T>
  static const std::string& chain(const DStream<T>& s) { return s.chain_; }
  // "socketTextStream.flatMap.map": where the stream's records come from.
  template <class T>
  static std::string lineage(const DStream<T>& s) { return s.base_->name + s.chain_; }
};

// A stream reading the records node `n` produces, unchanged.
template <class T>
DStream<T> of_node(std::shared_ptr<JobBuilder> job, NodePtr n) {
  return StreamAccess::make<T>(
      std::move(job), std::move(n),
      [](const Partition& in, const TaskContext&, const ChunkEmit<T>& emit) {
        in.for_each_run<T>([&](const std::vector<T>& rows) {
          if (!rows.empty()) emit(rows);
        });
      },
      "", true);
}

// Adds node n to s's job and returns the stream of its records.
template <class T, class S>
DStream<T> add_node(const DStream<S>& s, NodePtr n) {
  const auto& job = StreamAccess::job(s);
  return of_node<T>(job, job->add(std::move(n)));
}

// Adds an edge reading stream s (through its fused pipe, `fn`) to node n.
template <class T>
void add_edge(const DStream<T>& s, Node& n, EdgeFn fn, std::shared_ptr<CombineStats> combine = nullptr) {
  n.edges.push_back(Edge{StreamAccess::base(s), std::move(fn), StreamAccess::lineage(s), std::move(combine)});
}

// A map-side combining edge and the counts its tasks add to.
struct CombiningEdge {
  EdgeFn fn;
  std::shared_ptr<CombineStats> stats;
};
template <class T>
void add_edge(const DStream<T>& s, Node& n, CombiningEdge edge) {
  add_edge(s, n, std::move(edge.fn), std::move(edge.stats));
}

// Node n produces as often as stream s does.
template <class T>
void inherit_slide(const DStream<T>& s, Node& n) {
  n.slide_batches = StreamAccess::base(s)->slide_batches;
}

template <class T>
int resolve_partitions(const DStream<T>& s, int partitions) {
  return StreamAccess::job(s)->partitions(partitions);
}

template <class T, class U>
void require_same_slide(const char* op, const DStream<T>& a, const DStream<U>& b) {
  require_same_slide(op, *StreamAccess::base(a), *StreamAccess::base(b));
}

// An edge that materializes the stream's records of one partition
// (at most `limit` of them) as one partition.
template <class T>
EdgeFn collect_edge(const DStream<T>& s, std::size_t limit = SIZE_MAX) {
  if (StreamAccess::identity(s) && limit == SIZE_MAX)
    return [](const Partition& in, const TaskContext&) { return std::vector<Partition>{in}; };
  auto pipe = StreamAccess::pipe(s);
  return [pipe, limit](const Partition& in, const TaskContext& ctx) {
    std::vector<T> rows;
    rows.reserve(std::min(limit, in.size_hint()));  // exact for map, a bound for filter
    pipe(in, ctx, [&](Chunk<T> chunk) {
      std::size_t take = std::min(chunk.size(), limit - std::min(limit, rows.size()));
      rows.insert(rows.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(take));
    });
    return std::vector<Partition>{Partition::of(std::move(rows))};
  };
}

// Text keys of combined pairs (each distinct key once, pointing into the
// input's read buffers) copied into one buffer of their own, which is
// returned; the keys then point there. The buckets hold only that, not the
// whole input: a slot's read buffers go back to the receiver when its map
// task ends rather than when its batch does, and the copy is a few bytes per
// distinct key against ~100 per line. Null (nothing copied) for other
// records, and when values are views too.
template <class T>
Pin copy_out_text_keys(std::vector<T>& rows) {
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  if constexpr (std::is_same_v<K, Text> && !holds_views_v<V>) {
    std::size_t bytes = 0;
    for (const auto& r : rows) bytes += r.first.size();
    std::shared_ptr<char[]> keys(new char[std::max<std::size_t>(bytes, 1)]);
    char* at = keys.get();
    for (auto& r : rows) {
      std::size_t len = r.first.size();
      if (len) std::memcpy(at, r.first.data(), len);
      r.first = Text(at, len);
      at += len;
    }
    return keys;
  } else {
    (void)rows;
    return nullptr;
  }
}

// An edge that merges the values of each key with f (map-side combining)
// and hash-partitions the pairs by key into n buckets. Each key is hashed
// once; the buckets carry the hashes to the reduce side. One table for all
// buckets, split when drained: one table's worth of memory to keep in cache,
// not n.
//
// `feed(in, ctx, table, f)` merges the records the stream makes of partition
// `in` into the table. Each task big enough to judge by adds what its table
// took in and kept to the edge's stats.
template <class T, class F, class Feed>
CombiningEdge combine_by_key_edge(Feed feed, F f, int n) {
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;
  auto stats = std::make_shared<CombineStats>();
  EdgeFn fn = [feed, f, n, stats](const Partition& in, const TaskContext& ctx) {
    CombineTableFor<K, V> table;
    feed(in, ctx, table, f);
    if (table.records_merged() >= CombineStats::kSmallestCounted) {
      stats->records.fetch_add(table.records_merged(), std::memory_order_relaxed);
      stats->keys.fetch_add(table.size(), std::memory_order_relaxed);
    }
    std::vector<T> rows;
    std::vector<uint64_t> hashes;
    Pin keys;
    if constexpr (std::is_same_v<decltype(table), TextCombineTable<V>> && !holds_views_v<V>) {
      keys = table.drain_copying_keys(rows, hashes);
    } else {
      // Text keys still get copied here when V is not default-constructible
      // (CombineTableFor then picks the generic table); null otherwise.
      table.drain(rows, hashes);
      keys = copy_out_text_keys(rows);
    }
    auto bucket = [&keys](std::vector<T> r, std::vector<uint64_t> h) {
      return keys ? Partition::of_owned(std::move(r), std::move(h), keys) : Partition::of(std::move(r), std::move(h));
    };
    std::vector<Partition> out;
    out.reserve(n);
    if (n == 1) {
      out.push_back(bucket(std::move(rows), std::move(hashes)));
      return out;
    }
    // Each bucket sized exactly (a pass over the hashes): the buckets wait
    // for the reduce, and with keys that seldom repeat they are most of the
    // memory a batch holds.
    std::vector<std::size_t> sizes(n);
    for (uint64_t h : hashes) ++sizes[bucket_of(h, n)];
    std::vector<std::vector<T>> bucket_rows(n);
    std::vector<std::vector<uint64_t>> bucket_hashes(n);
    for (int b = 0; b < n; ++b) {
      bucket_rows[b].reserve(sizes[b]);
      bucket_hashes[b].reserve(sizes[b]);
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
      int b = bucket_of(hashes[i], n);
      bucket_rows[b].push_back(std::move(rows[i]));
      bucket_hashes[b].push_back(hashes[i]);
    }
    for (int b = 0; b < n; ++b) out.push_back(bucket(std::move(bucket_rows[b]), std::move(bucket_hashes[b])));
    return out;
  };
  return {std::move(fn), std::move(stats)};
}

// The same over the stream's chunked pipe.
template <class T, class F>
CombiningEdge combine_by_key_edge(const DStream<T>& s, F f, int n) {
  auto feed = [pipe = StreamAccess::pipe(s)](const Partition& in, const TaskContext& ctx,
                                             auto& table, const F& f) {
    pipe(in, ctx, [&](Chunk<T> chunk) { table.merge_all(chunk.data(), chunk.size(), f); });
  };
  return combine_by_key_edge<T>(feed, f, n);
}

// An edge that hash-partitions pairs by key into n buckets, no combining.
template <class T>
EdgeFn hash_partition_edge(const DStream<T>& s, int n) {
  auto pipe = StreamAccess::pipe(s);
  return [pipe, n](const Partition& in, const TaskContext& ctx) {
    std::vector<std::vector<T>> out(n);
    for_each_record<T>(pipe, in, ctx, [&](const T& kv) { out[partition_of(kv.first, n)].push_back(kv); });
    std::vector<Partition> parts;
    parts.reserve(n);
    for (auto& rows : out) parts.push_back(Partition::of(std::move(rows)));
    return parts;
  };
}

}  // namespace trib::detail
