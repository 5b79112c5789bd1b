// The fused chain of narrow operations (map, filter, flatMap, ...) a DStream
// carries until the next node: a Pipe over one partition of the base node.
//
// A fused chain hands records on in chunks: one std::function call per
// chunk, and a tight loop over the chunk inside each operation, instead of
// one call per record per operation.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "dstream/core/graph.hpp"

// For a fused chain's per-record steps and sinks (narrow_ops.hpp,
// shuffle_ops.hpp): inlined into one another and into the loop over the
// input. Left to itself the compiler made a call per record at one of them,
// which cost a word count 7 % of its CPU (the prologue and the spills).
#define TRIB_INLINE __attribute__((always_inline))

namespace trib {

// Records per chunk: a chunk of words and one of (word, count) pairs stay
// in L1 together with the text being read.
inline constexpr std::size_t kChunkRecords = 256;

// A run of records handed from one operation to the next: a view, valid
// during the call it is passed to. A partition's rows pass as one chunk.
template <class T>
class Chunk {
 public:
  Chunk(const T* data, std::size_t size) : data_(data), size_(size) {}
  Chunk(const std::vector<T>& rows) : data_(rows.data()), size_(rows.size()) {}  // NOLINT: implicit
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T& operator[](std::size_t i) const { return data_[i]; }

 private:
  const T* data_;
  std::size_t size_;
};

// std::vector<bool> holds bits, not bools: its chunks iterate the vector
// (or a copy of what a writer gathered) instead of viewing an array.
template <>
class Chunk<bool> {
 public:
  Chunk(const bool* data, std::size_t size) : owned_(data, data + size), rows_(&owned_) {}
  Chunk(const std::vector<bool>& rows) : rows_(&rows) {}  // NOLINT: implicit
  Chunk(const Chunk& o) : owned_(o.owned_), rows_(o.rows_ == &o.owned_ ? &owned_ : o.rows_) {}
  Chunk& operator=(const Chunk&) = delete;
  auto begin() const { return rows_->begin(); }
  auto end() const { return rows_->end(); }
  std::size_t size() const { return rows_->size(); }
  bool empty() const { return rows_->empty(); }
  bool operator[](std::size_t i) const { return (*rows_)[i]; }

 private:
  std::vector<bool> owned_;
  const std::vector<bool>* rows_;
};

template <class T>
using ChunkEmit = std::function<void(Chunk<T>)>;

// Runs the fused narrow chain over one partition of the base node, handing
// the resulting records on chunk by chunk.
template <class T>
using Pipe = std::function<void(const Partition&, const TaskContext&, const ChunkEmit<T>&)>;

// Calls f on every record the pipe produces from partition `in`.
template <class T, class F>
void for_each_record(const Pipe<T>& pipe, const Partition& in, const TaskContext& ctx, F&& f) {
  pipe(in, ctx, [&](Chunk<T> chunk) {
    for (const auto& x : chunk) f(x);
  });
}

// Gathers an operation's output records into chunks for the next one, in
// storage allocated once: a push is a placement new and a compare (a vector's
// push_back was not inlined, and cost a tenth of a word count's time).
template <class T>
class ChunkWriter {
 public:
  explicit ChunkWriter(const ChunkEmit<T>& emit)
      : emit_(emit), begin_(std::allocator<T>().allocate(kChunkRecords)), end_(begin_),
        limit_(begin_ + kChunkRecords) {}
  ChunkWriter(const ChunkWriter&) = delete;
  ChunkWriter& operator=(const ChunkWriter&) = delete;
  ~ChunkWriter() {
    clear();
    std::allocator<T>().deallocate(begin_, kChunkRecords);
  }

  template <class X>
  void push(X&& x) {
    ::new (static_cast<void*>(end_)) T(std::forward<X>(x));
    if (++end_ == limit_) flush();
  }
  void flush() {
    if (end_ == begin_) return;
    emit_(Chunk<T>(begin_, static_cast<std::size_t>(end_ - begin_)));
    clear();
  }

 private:
  void clear() {
    if constexpr (!std::is_trivially_destructible_v<T>)
      for (T* p = begin_; p != end_; ++p) p->~T();
    end_ = begin_;
  }

  const ChunkEmit<T>& emit_;
  T* const begin_;
  T* end_;  // a T*, not a count: stores of the records' own integers cannot alias it
  T* const limit_;
};

}  // namespace trib
