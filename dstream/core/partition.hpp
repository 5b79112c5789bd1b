// A partition: one immutable slice of one batch of one DStream.
//
// Partitions are what actors pass to each other. Locally a partition is a
// shared pointer to a typed vector, so moving it between actors copies no
// records. When it must cross a process boundary (or land in a snapshot) it
// is encoded with Cereal, once per partition; the receiving side decodes it
// lazily, on the first typed access, because only the operator that reads it
// knows the type.
//
// This header is the handle only, without Cereal, so the job graph and the
// runtime's messages do not compile it. Code that makes or reads typed
// partitions (Partition::of, rows<T>) also includes
// dstream/core/partition_codec.hpp, which defines PartitionCodec<T>; without
// it the compiler stops at "incomplete type PartitionCodec<T>".
//
// Records may be views (Text) into bytes the partition does not own: the
// blocks a receiver filled, or the rows of the partition a task read. A
// partition pins what its records point into (`pins`), so the bytes live
// exactly as long as some partition needs them; detached() copies the
// referenced bytes out when a partition is kept beyond its batch.
//
// Shuffle buckets also carry each record's key hash (`hashes`), so the
// reduce side does not hash keys again. Hashes do not travel between
// processes: they are recomputed there, cheaper than sending them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "dstream/core/owned.hpp"

namespace trib {

using Pin = std::shared_ptr<const void>;

// Encodes and decodes the records of a TypedPartition<T> (Cereal);
// defined in dstream/core/partition_codec.hpp.
template <class T>
struct PartitionCodec;

class PartitionBase {
 public:
  virtual ~PartitionBase() = default;
  virtual std::size_t size() const = 0;
  virtual std::string encode() const = 0;
};

// Whole lines back to back in bytes that a pin keeps alive, each ended by
// "\n" or "\r\n", valid UTF-8 and none over the reader's length limit:
// a receiver's read, not cut into lines yet (Partition::uncut_lines).
struct LineRun {
  const char* data = nullptr;
  std::size_t bytes = 0;
  std::size_t lines = 0;
};

template <class T>
class TypedPartition final : public PartitionBase {
 public:
  explicit TypedPartition(std::vector<T> rows, std::vector<uint64_t> hashes = {},
                          Pin owner = nullptr)
      : rows(std::move(rows)), hashes(std::move(hashes)), owner(std::move(owner)) {}

  std::size_t size() const override { return rows.size(); }

  std::string encode() const override { return PartitionCodec<T>::encode(rows); }
  static std::shared_ptr<const TypedPartition> decode(std::shared_ptr<const std::string> bytes) {
    return PartitionCodec<T>::decode(std::move(bytes));
  }

  const std::vector<T> rows;
  const std::vector<uint64_t> hashes;  // empty, or one key hash per row
  const Pin owner;                     // what decoded views point into
};

class Partition {
 public:
  Partition() = default;

  // `hashes`: empty, or the key hash of each row (shuffle buckets).
  template <class T>
  static Partition of(std::vector<T> rows, std::vector<uint64_t> hashes = {}) {
    Partition p;
    p.data_ = std::make_shared<const TypedPartition<T>>(std::move(rows), std::move(hashes));
    p.views_ = holds_views_v<T>;
    return p;
  }

  // Records whose views point only into `owner` (keys copied out of the
  // blocks they were read from): the partition keeps `owner` and nothing
  // else, so the blocks can go back to their reader before this dies.
  template <class T>
  static Partition of_owned(std::vector<T> rows, std::vector<uint64_t> hashes, Pin owner) {
    Partition p;
    p.data_ = std::make_shared<const TypedPartition<T>>(std::move(rows), std::move(hashes), std::move(owner));
    return p;  // views_ stays false: nothing outside it to pin
  }

  // The records of `parts`, in order, without copying them: a receiver's
  // chunks of one interval. for_each_run reads the parts as they are; typed
  // access (rows<T>()) joins them into one vector on first use.
  template <class T>
  static Partition concat(std::vector<Partition> parts) {
    if (parts.size() == 1) return std::move(parts[0]);
    Partition p;
    for (const Partition& part : parts)  // what the joined rows will point into
      for (const Pin& pin : part.pins()) p.pin(pin);
    p.parts_ = std::make_shared<const std::vector<Partition>>(std::move(parts));
    p.join_ = &join_parts<T>;
    p.views_ = holds_views_v<T>;
    p.lazy_ = std::make_shared<Lazy>();
    return p;
  }

  // Lines of a receiver's read as they lie in its buffer: `cut` makes the
  // rows (std::vector<Text>) on first typed access, once for every copy of
  // the handle. Until then, counting them costs nothing and
  // for_each_run_or_uncut hands the bytes over as they are (split_words
  // reads them without cutting).
  static Partition uncut_lines(LineRun run, std::shared_ptr<const PartitionBase> (*cut)(const LineRun&)) {
    Partition p;
    p.uncut_ = run;
    p.cut_ = cut;
    p.views_ = true;
    p.lazy_ = std::make_shared<Lazy>();
    return p;
  }

  // The uncut lines it holds (uncut_lines), or nullptr.
  const LineRun* uncut_run() const { return cut_ ? &uncut_ : nullptr; }

  // A partition received as bytes; decoded on first typed access.
  static Partition from_bytes(std::string bytes) {
    Partition p;
    p.bytes_ = std::make_shared<const std::string>(std::move(bytes));
    p.lazy_ = std::make_shared<Lazy>();
    return p;
  }

  bool empty_handle() const { return !data_ && !bytes_ && !parts_ && !cut_; }

  // The records, typed. Throws if the partition holds another type.
  template <class T>
  const std::vector<T>& rows() const { return typed<T>().rows; }

  // Calls f(const std::vector<T>&) on the records in runs, in order: a
  // concatenation's parts one by one (not joined), otherwise all at once.
  template <class T, class F>
  void for_each_run(F&& f) const {
    if (parts_) {
      for (const Partition& part : *parts_) part.for_each_run<T>(f);
      return;
    }
    f(rows<T>());
  }

  // As for_each_run, but a run of uncut lines (uncut_lines) goes to
  // uncut(const LineRun&) without being cut.
  template <class T, class U, class F>
  void for_each_run_or_uncut(U&& uncut, F&& f) const {
    if (parts_) {
      for (const Partition& part : *parts_) part.for_each_run_or_uncut<T>(uncut, f);
      return;
    }
    if (cut_) return uncut(uncut_);
    f(rows<T>());
  }

  // The key hash of each row, or an empty vector when none were carried.
  template <class T>
  const std::vector<uint64_t>& hashes() const { return typed<T>().hashes; }

  // True when it certainly holds no records (never decodes).
  bool known_empty() const {
    if (cut_) return uncut_.lines == 0;
    if (data_) return data_->size() == 0;
    if (parts_) {
      for (const Partition& part : *parts_)
        if (!part.known_empty()) return false;
      return true;
    }
    return !bytes_;
  }
  // Records held, or 0 while still bytes: a capacity hint that never decodes.
  std::size_t size_hint() const {
    if (cut_) return uncut_.lines;
    if (data_) return data_->size();
    if (const PartitionBase* d = made()) return d->size();
    std::size_t n = 0;
    if (parts_)
      for (const Partition& part : *parts_) n += part.size_hint();
    return n;
  }

  std::size_t size() const {
    if (cut_) return uncut_.lines;
    if (data_) return data_->size();
    if (parts_) {
      std::size_t n = 0;
      for (const Partition& part : *parts_) n += part.size();
      return n;
    }
    if (bytes_) {
      if (const PartitionBase* d = made()) return d->size();
      throw std::logic_error("size() of an undecoded partition");
    }
    return 0;
  }

  std::string encode() const {
    if (bytes_) return *bytes_;
    if (const PartitionBase* d = joined()) return d->encode();
    return {};
  }

  // ---- lifetime of the bytes records point into ----------------------------

  // True when the records may be views into bytes this partition pins.
  bool holds_views() const { return views_ || (bytes_ && made() && lazy_->views); }

  const std::vector<Pin>& pins() const { return pins_; }

  // Keeps `bytes` alive as long as this partition.
  void pin(Pin bytes) {
    if (!bytes || (!pins_.empty() && pins_.back() == bytes)) return;
    pins_.push_back(std::move(bytes));
  }

  // A pin that keeps alive everything this partition's records may point
  // into (its rows and its own pins), for partitions computed from it. One
  // shared handle: pinning it costs the same however many pins it holds.
  Pin keep_alive() const { return std::make_shared<const Partition>(*this); }

  // A partition that owns its bytes: views are copied out (only the bytes
  // they reference), so nothing else is kept alive. For records kept across
  // batches (window histories).
  Partition detached() const {
    if (bytes_) return *this;  // its views, if any, point into its own bytes
    const PartitionBase* d = joined();
    if (!views_ || !d) return *this;
    Partition p = from_bytes(d->encode());
    p.views_ = true;  // decoding yields views into the partition's own copy
    return p;
  }

 private:
  // What a lazy partition (a concatenation, uncut lines, bytes) becomes on
  // first typed access: made once and shared by every copy of the handle.
  // Copies reach several actors at once (a slot's partitions go to the
  // tasks mapping them and, inside a window's concatenation, to the
  // coordinator), so the first access may come from any thread, and from two
  // at a time.
  struct Lazy {
    std::once_flag once;
    std::shared_ptr<const PartitionBase> data;
    bool views = false;             // decoded records are views (bytes)
    std::atomic<bool> made{false};  // data is set (for readers that do not make it)
  };

  // Makes the records with `make` unless made already; null when there is
  // nothing to make.
  template <class Make>
  const PartitionBase* make_once(Make&& make) const {
    if (data_ || !lazy_) return data_.get();
    std::call_once(lazy_->once, [&] {
      make(*lazy_);
      lazy_->made.store(true, std::memory_order_release);
    });
    return lazy_->data.get();
  }
  // The records if made already, without making them.
  const PartitionBase* made() const {
    if (data_ || !lazy_) return data_.get();
    return lazy_->made.load(std::memory_order_acquire) ? lazy_->data.get() : nullptr;
  }
  // A concatenation's parts as one vector, or uncut lines cut; null for
  // bytes (their type is not known here) unless decoded already.
  const PartitionBase* joined() const {
    if (bytes_) return made();
    return make_once([this](Lazy& l) { l.data = parts_ ? join_(*parts_) : cut_(uncut_); });
  }
  template <class T>
  static std::shared_ptr<const PartitionBase> join_parts(const std::vector<Partition>& parts) {
    std::vector<T> rows;
    std::size_t n = 0;
    for (const Partition& part : parts) n += part.size_hint();
    rows.reserve(n);
    for (const Partition& part : parts) {
      const auto& r = part.rows<T>();
      rows.insert(rows.end(), r.begin(), r.end());
    }
    return std::make_shared<const TypedPartition<T>>(std::move(rows));
  }

  template <class T>
  const TypedPartition<T>& typed() const {
    const PartitionBase* d = bytes_ ? make_once([this](Lazy& l) {
                                        l.data = TypedPartition<T>::decode(bytes_);
                                        l.views = holds_views_v<T>;
                                      })
                                    : joined();
    if (!d) {
      static const TypedPartition<T> none{std::vector<T>{}};
      return none;
    }
    auto typed = dynamic_cast<const TypedPartition<T>*>(d);
    if (!typed)
      throw std::logic_error(std::string("partition does not hold records of type ") +
                             typeid(T).name());
    return *typed;
  }

  std::shared_ptr<const PartitionBase> data_;  // the records, when made eagerly
  std::shared_ptr<Lazy> lazy_;                 // or lazily
  std::shared_ptr<const std::string> bytes_;
  // A concatenation: its parts and how to join them once a caller needs one
  // vector.
  std::shared_ptr<const std::vector<Partition>> parts_;
  std::shared_ptr<const PartitionBase> (*join_)(const std::vector<Partition>&) = nullptr;
  // Uncut lines, and how to cut them once a caller needs rows.
  LineRun uncut_;
  std::shared_ptr<const PartitionBase> (*cut_)(const LineRun&) = nullptr;
  std::vector<Pin> pins_;
  bool views_ = false;
};

// The partitions of one DStream in one batch, in partition order.
using Dataset = std::vector<Partition>;

// Cuts records into n partitions of consecutive records the way Spark's
// parallelize slices a collection (ParallelCollectionRDD.slice): partition i
// gets records [i*size/n, (i+1)*size/n), so the later partitions take the
// remainder ([1,2,3,4] into 3: [1] [2] [3,4]). Reading the partitions in
// order gives the records in order.
inline std::pair<std::size_t, std::size_t> slice_bounds(std::size_t size, int n, int i) {
  auto at = [&](int j) {
    return static_cast<std::size_t>(static_cast<uint64_t>(j) * size / static_cast<uint64_t>(n));
  };
  return {at(i), at(i + 1)};
}

template <class T>
Dataset split_into_partitions(std::vector<T> rows, int n) {
  Dataset parts;
  parts.reserve(n);
  if (n == 1) {  // one partition: the rows as they are
    parts.push_back(Partition::of(std::move(rows)));
    return parts;
  }
  for (int i = 0; i < n; ++i) {
    auto [begin, end] = slice_bounds(rows.size(), n, i);
    std::vector<T> chunk(std::make_move_iterator(rows.begin() + begin),
                         std::make_move_iterator(rows.begin() + end));
    parts.push_back(Partition::of(std::move(chunk)));
  }
  return parts;
}

}  // namespace trib
