// The fused chain of narrow operations (map, filter, flatMap, ...) a DStream
// carries until the next node: a Pipe over one partition of the base node.
//
// A fused chain hands records on in chunks: one std::function call per
// chunk, and a tight loop over the chunk inside each operation, instead of
// one call per record per operation.
#pragma once

#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "dstream/core/graph.hpp"

namespace trib {

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

}  // namespace trib
