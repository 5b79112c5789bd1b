// CombineTable: merges the values of equal keys, for reduceByKey's map-side
// combine and its reduce side.
//
// An absl::flat_hash_map (open addressing, SIMD-probed control bytes) whose
// entries remember their key's hash: a key is hashed once, where the record
// is first combined, and that hash picks the shuffle bucket, travels with the
// record, and probes the reduce side's table again without rehashing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "dstream/core/hashing.hpp"
#include "dstream/core/text.hpp"

namespace trib {

namespace detail {
// How many keys the last drained table of type Table on this thread held:
// a table starts at that size, as growing from nothing rehashes a million
// keys 10 times.
template <class Table>
std::size_t& recent_keys() {
  thread_local std::size_t n = 0;
  return n;
}
}  // namespace detail

// Text keys, whose values can be default-constructed, get a table of their
// own (below), as the benchmark's baseline loop does: a probe touches one
// slot that holds the key inline, where absl reads a control group and then
// the slot. It went in together with other changes and has not been timed
// against absl on its own; the word-count benchmark is the place to do it.
template <class V>
class TextCombineTable;

template <class K, class V>
class CombineTable {
  // Text keys are compared through their ShortText, kept in the entry: the
  // key's own bytes lie somewhere in the batch's blocks, and reading them on
  // every probe cost a cache miss each (a third of a full-speed run).
  static constexpr bool kText = std::is_convertible_v<const K&, std::string_view>;

 public:
  // Merges v into the value of `key` (whose hash is `hash`) with f, or
  // inserts it. f must be associative and commutative.
  template <class F>
  void merge(const K& key, uint64_t hash, const V& v, const F& f) {
    ++merged_;
    Probe probe{&key, hash, inline_key(key)};
    auto it = map_.find(probe);
    if (it != map_.end()) {
      it->second = f(it->second, v);
      return;
    }
    if (map_.empty()) map_.reserve(std::max(expected_, detail::recent_keys<CombineTable>()));
    map_.emplace(Key{key, hash, probe.inline_key}, v);
  }

  // Hashes the key itself.
  template <class F>
  void merge(const K& key, const V& v, const F& f) {
    merge(key, hash_key(key), v, f);
  }

  // Merges n records (pairs of key and value).
  template <class F>
  void merge_all(const std::pair<K, V>* rows, std::size_t n, const F& f) {
    for (std::size_t i = 0; i < n; ++i) merge(rows[i].first, rows[i].second, f);
  }

  std::size_t size() const { return map_.size(); }
  // Records merged in so far, drained or not.
  uint64_t records_merged() const { return merged_; }

  // About n distinct keys are coming (the reduce side knows a bound).
  void reserve(std::size_t n) { expected_ = std::max(expected_, n); }

  // Moves the entries out as records and their hashes (same order).
  void drain(std::vector<std::pair<K, V>>& rows, std::vector<uint64_t>& hashes) {
    rows.reserve(rows.size() + map_.size());
    hashes.reserve(hashes.size() + map_.size());
    for (auto& [k, v] : map_) {
      rows.emplace_back(k.key, std::move(v));
      hashes.push_back(k.hash);
    }
    detail::recent_keys<CombineTable>() = map_.size();
    map_.clear();
  }

 private:
  static ShortText inline_key(const K& key) {
    if constexpr (kText) return short_text(std::string_view(key));
    else return {};
  }

  struct Key {
    K key;
    uint64_t hash;
    ShortText inline_key;  // text keys only
  };
  // A lookup that does not copy the key (std::string keys would allocate).
  struct Probe {
    const K* key;
    uint64_t hash;
    ShortText inline_key;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(const Key& k) const { return k.hash; }
    std::size_t operator()(const Probe& p) const { return p.hash; }
  };
  struct Eq {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      if (a.hash != b.hash) return false;
      if constexpr (kText) {
        if (!(a.inline_key == b.inline_key)) return false;
        if (a.inline_key.len <= 16) return true;  // the inline key is the whole key
      }
      return key_of(a) == key_of(b);
    }
    static const K& key_of(const Key& k) { return k.key; }
    static const K& key_of(const Probe& p) { return *p.key; }
  };

  absl::flat_hash_map<Key, V, Hash, Eq> map_;
  std::size_t expected_ = 0;
  uint64_t merged_ = 0;
};

// Open addressing with linear probing over slots of two integers and the
// value: 24 bytes for an int64 value, so a word count's 10,000 keys fit in
// 768 KiB, in L2 (32-byte slots, the length apart, cost 3 % of the
// word-count benchmark: a third of the combine is waiting for its slot). A key
// of up to 15 bytes is held whole: its bytes (ShortText) with its length + 1
// in the top byte, which such a key leaves zero. A longer key holds its hash
// and its length, tagged 0xff, and is compared through the pointer to its
// first occurrence (the record handed on), kept in a parallel array that
// only inserts, long keys and drain() touch: a probe reads one slot. Load
// stays at most 1/2: at 5/8 the word-count benchmark's combine took 1.15x
// the time (Zipf keys: the hot ones collide less).
//
// A table starts at the size the previous table on this thread ended with,
// in that table's storage (slots left empty by drain()): with many keys
// (a million distinct words a batch), growing each task's table from
// nothing and faulting in fresh pages for it took over half of a run.
template <class V>
class TextCombineTable {
 public:
  // No slots until the first key: an empty batch should cost nothing.
  TextCombineTable() = default;
  TextCombineTable(const TextCombineTable&) = delete;
  TextCombineTable& operator=(const TextCombineTable&) = delete;
  ~TextCombineTable() { give_back(); }

  // About n distinct keys are coming (the reduce side knows a bound).
  void reserve(std::size_t n) { expected_ = std::max(expected_, n); }

  template <class F>
  void merge(const Text& key, uint64_t hash, const V& v, const F& f) {
    merge(key, short_text(key), hash, v, f);
  }

  // Hashes the key itself: its ShortText is computed once for both.
  template <class F>
  [[gnu::always_inline]] void merge(const Text& key, const V& v, const F& f) {
    ShortText k = short_text(key);
    merge(key, k, hash_text(k, key), v, f);
  }

  // Merges n records. A plain loop: hashing 16 records ahead and
  // prefetching their slots (an earlier version) measured slower once the
  // receive path stopped faulting: 0.92x user CPU without it, in two sets of
  // 12-14 paired full-speed runs of the socket benchmark.
  template <class F>
  void merge_all(const std::pair<Text, V>* rows, std::size_t n, const F& f) {
    for (std::size_t i = 0; i < n; ++i) merge(rows[i].first, rows[i].second, f);
  }

  std::size_t size() const { return filled_.size(); }
  // Records merged in so far, drained or not.
  uint64_t records_merged() const { return merged_; }

  // Moves the entries out and leaves the table empty, its storage kept for
  // reuse. The keys point where the merged ones did.
  void drain(std::vector<std::pair<Text, V>>& rows, std::vector<uint64_t>& hashes) {
    drain_into(rows, hashes, nullptr);
  }

  // The same with the keys' bytes copied into one buffer of their own,
  // returned, that the rows point into: a map task's output then pins that
  // instead of its input's read buffers. A key under 16 bytes is written
  // from its slot, where it is kept inline, not read again from the input,
  // whose bytes are long out of cache when a slot's table drains (copying
  // from there showed as 3-4 % of a 100,000-word run's samples).
  std::shared_ptr<char[]> drain_copying_keys(std::vector<std::pair<Text, V>>& rows,
                                             std::vector<uint64_t>& hashes) {
    std::shared_ptr<char[]> keys(new char[key_bytes_ + 16]);  // a short key is written as 16 bytes
    drain_into(rows, hashes, keys.get());
    return keys;
  }

 private:
  // keys: where to copy the keys to (null: not copied).
  void drain_into(std::vector<std::pair<Text, V>>& rows, std::vector<uint64_t>& hashes, char* keys) {
    rows.reserve(rows.size() + filled_.size());
    hashes.reserve(hashes.size() + filled_.size());
    auto take = [&](std::size_t i) {
      Slot& s = slots_[i];
      std::size_t len = length_of(s);
      const char* at = ptrs_[i];
      hashes.push_back(hash_of(s, std::string_view(at, len)));
      if (keys) {
        if (is_long(s)) {
          std::memcpy(keys, at, len);
        } else {
          uint64_t inline_bytes[2] = {s.a, s.b & kKeyBytesOfB};
          std::memcpy(keys, inline_bytes, 16);
        }
        at = keys;
        keys += len;
      }
      rows.emplace_back(Text(at, len), std::move(s.value));
      s = Slot{};
    };
    // A full table in slot order (sequential reads), a sparse one by its list.
    if (filled_.size() * 8 > slots_.size()) {
      for (std::size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].b != 0) take(i);
    } else {
      for (uint32_t i : filled_) take(i);
    }
    detail::recent_keys<TextCombineTable>() = filled_.size();
    filled_.clear();
    key_bytes_ = 0;
  }

  static constexpr std::size_t kInitialSlots = 1024;
  // Storage kept for the thread's next table, up to 4 M slots (96 MiB of
  // slots for int64 values).
  static constexpr std::size_t kMaxKeptSlots = std::size_t{1} << 22;
  struct Slot {
    uint64_t a = 0, b = 0;  // see the class comment; b == 0: empty
    V value{};
  };
  static constexpr int kTagShift = 56;
  static constexpr uint64_t kLongTag = uint64_t{0xff} << kTagShift;
  static constexpr uint64_t kKeyBytesOfB = (uint64_t{1} << kTagShift) - 1;  // below the tag
  // The slot's (a, b) for key k whose hash is `hash`.
  static void slot_key(const ShortText& k, uint64_t hash, uint64_t* a, uint64_t* b) {
    if (k.len < 16) {
      *a = k.a;
      *b = k.b | (uint64_t{k.len + 1} << kTagShift);
    } else {
      *a = hash;
      *b = kLongTag | k.len;
    }
  }
  static bool is_long(const Slot& s) { return (s.b >> kTagShift) == 0xff; }
  static std::size_t length_of(const Slot& s) {
    return is_long(s) ? static_cast<std::size_t>(s.b & ~kLongTag) : (s.b >> kTagShift) - 1;
  }
  static uint64_t hash_of(const Slot& s, std::string_view key) {
    if (is_long(s)) return s.a;
    return hash_text(ShortText{s.a, s.b & kKeyBytesOfB, static_cast<uint32_t>(key.size())}, key);
  }
  struct Storage {
    std::vector<Slot> slots;
    std::vector<const char*> ptrs;
    std::vector<uint32_t> filled;
  };
  static Storage& kept() {
    thread_local Storage storage;
    return storage;
  }
  // Slots for n keys at a load of at most 1/2.
  static std::size_t capacity_for(std::size_t n) {
    std::size_t c = kInitialSlots;
    while (n * 2 > c) c *= 2;
    return c;
  }

  // Inlined into merge_all's loop: a call per record showed in the profile.
  template <class F>
  [[gnu::always_inline]] void merge(const Text& key, const ShortText& k, uint64_t hash, const V& v,
                                    const F& f) {
    if (slots_.empty()) start();
    ++merged_;
    uint64_t a, b;
    slot_key(k, hash, &a, &b);
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (((s.a ^ a) | (s.b ^ b)) == 0 && (k.len < 16 || std::string_view(ptrs_[i], k.len) == key)) {
        s.value = f(s.value, v);
        return;
      }
      if (s.b == 0) return insert(i, key, a, b, v);
    }
  }

  [[gnu::noinline]] void insert(std::size_t i, const Text& key, uint64_t a, uint64_t b, const V& v) {
    Slot& s = slots_[i];
    s.a = a;
    s.b = b;
    s.value = v;
    ptrs_[i] = key.data();
    key_bytes_ += key.size();
    filled_.push_back(static_cast<uint32_t>(i));
    if (filled_.size() * 2 > slots_.size()) rehash(slots_.size() * 2);
  }

  // Sized for what this thread's previous table held (or reserve()), in its
  // storage when that is big enough and not over 8 times too big.
  [[gnu::noinline]] void start() {
    std::size_t want = capacity_for(std::max(expected_, detail::recent_keys<TextCombineTable>()));
    Storage& k = kept();
    if (k.slots.size() >= want && k.slots.size() <= 8 * want) {
      slots_ = std::move(k.slots);
      ptrs_ = std::move(k.ptrs);
      filled_ = std::move(k.filled);
      k = Storage{};
      mask_ = slots_.size() - 1;
    } else {
      resize(want);
    }
  }

  void resize(std::size_t capacity) {
    slots_.assign(capacity, Slot{});
    ptrs_.assign(capacity, nullptr);
    mask_ = capacity - 1;
  }

  // Empties the slots still filled and leaves the storage for the thread's
  // next table, unless it keeps a bigger one already.
  void give_back() {
    if (slots_.empty() || slots_.size() > kMaxKeptSlots) return;
    for (uint32_t i : filled_) slots_[i] = Slot{};
    filled_.clear();
    Storage& k = kept();
    if (k.slots.size() >= slots_.size()) return;
    k.slots = std::move(slots_);
    k.ptrs = std::move(ptrs_);
    k.filled = std::move(filled_);
  }

  void rehash(std::size_t capacity) {
    std::vector<Slot> old(std::move(slots_));
    std::vector<const char*> old_ptrs(std::move(ptrs_));
    std::vector<uint32_t> old_filled(std::move(filled_));
    resize(capacity);
    filled_.clear();
    for (uint32_t j : old_filled) {
      Slot& s = old[j];
      std::size_t i = hash_of(s, std::string_view(old_ptrs[j], length_of(s))) & mask_;
      while (slots_[i].b != 0) i = (i + 1) & mask_;
      slots_[i] = std::move(s);
      ptrs_[i] = old_ptrs[j];
      filled_.push_back(static_cast<uint32_t>(i));
    }
  }

  std::vector<Slot> slots_;
  std::vector<const char*> ptrs_;  // each slot's key, where its bytes are
  std::vector<uint32_t> filled_;   // the slots in use, in the order their keys came
  std::size_t mask_ = 0;
  std::size_t expected_ = 0;
  std::size_t key_bytes_ = 0;  // of the keys in the table
  uint64_t merged_ = 0;
};

// Which table combines keys of type K with values of type V.
template <class K, class V>
using CombineTableFor =
    std::conditional_t<std::is_same_v<K, Text> && std::is_default_constructible_v<V>,
                       TextCombineTable<V>, CombineTable<K, V>>;

}  // namespace trib
