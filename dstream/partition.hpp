// A partition: one immutable slice of one batch of one DStream.
//
// Partitions are what actors pass to each other. Locally a partition is a
// shared pointer to a typed vector, so moving it between actors copies no
// records. When it must cross a process boundary (or land in a snapshot) it
// is encoded with Cereal; the receiving side decodes it lazily, on the first
// typed access, because only the operator that reads it knows the type.
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include <cereal/archives/binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

namespace trib {

class PartitionBase {
 public:
  virtual ~PartitionBase() = default;
  virtual std::size_t size() const = 0;
  virtual std::string encode() const = 0;
};

template <class T>
class TypedPartition final : public PartitionBase {
 public:
  explicit TypedPartition(std::vector<T> rows) : rows(std::move(rows)) {}

  std::size_t size() const override { return rows.size(); }

  std::string encode() const override {
    if constexpr (cereal::traits::is_output_serializable<
                      T, cereal::BinaryOutputArchive>::value) {
      std::ostringstream out;
      {
        cereal::BinaryOutputArchive archive(out);
        archive(rows);
      }
      return out.str();
    } else {
      throw std::runtime_error(
          std::string("record type has no Cereal serialize(): ") +
          typeid(T).name());
    }
  }

  static std::vector<T> decode(const std::string& bytes) {
    if constexpr (cereal::traits::is_input_serializable<
                      T, cereal::BinaryInputArchive>::value) {
      std::istringstream in(bytes);
      cereal::BinaryInputArchive archive(in);
      std::vector<T> rows;
      archive(rows);
      return rows;
    } else {
      throw std::runtime_error(
          std::string("record type has no Cereal serialize(): ") +
          typeid(T).name());
    }
  }

  const std::vector<T> rows;
};

class Partition {
 public:
  Partition() = default;

  template <class T>
  static Partition of(std::vector<T> rows) {
    Partition p;
    p.data_ = std::make_shared<const TypedPartition<T>>(std::move(rows));
    return p;
  }

  // A partition received as bytes; decoded on first typed access.
  static Partition from_bytes(std::string bytes) {
    Partition p;
    p.bytes_ = std::make_shared<const std::string>(std::move(bytes));
    return p;
  }

  bool empty_handle() const { return !data_ && !bytes_; }

  // The records, typed. Throws if the partition holds another type.
  template <class T>
  const std::vector<T>& rows() const {
    if (!data_ && bytes_) {
      // Caching the decode is safe: a Partition object is only ever used
      // by the one actor that currently owns the message holding it.
      data_ = std::make_shared<const TypedPartition<T>>(
          TypedPartition<T>::decode(*bytes_));
    }
    if (!data_) {
      static const std::vector<T> none;
      return none;
    }
    auto typed = dynamic_cast<const TypedPartition<T>*>(data_.get());
    if (!typed)
      throw std::logic_error(std::string("partition does not hold records of type ") +
                             typeid(T).name());
    return typed->rows;
  }

  std::size_t size() const {
    if (data_) return data_->size();
    if (bytes_) throw std::logic_error("size() of an undecoded partition");
    return 0;
  }

  std::string encode() const {
    if (data_) return data_->encode();
    if (bytes_) return *bytes_;
    return {};
  }

 private:
  mutable std::shared_ptr<const PartitionBase> data_;
  std::shared_ptr<const std::string> bytes_;
};

// The partitions of one DStream in one batch, in partition order.
using Dataset = std::vector<Partition>;

// Cuts records into n partitions of consecutive records (sizes differ by at
// most one), so reading the partitions in order gives the records in order.
template <class T>
Dataset split_into_partitions(std::vector<T> rows, int n) {
  Dataset parts;
  parts.reserve(n);
  std::size_t total = rows.size(), begin = 0;
  for (int i = 0; i < n; ++i) {
    std::size_t len = total / n + (static_cast<std::size_t>(i) < total % n ? 1 : 0);
    std::vector<T> chunk(std::make_move_iterator(rows.begin() + begin),
                         std::make_move_iterator(rows.begin() + begin + len));
    begin += len;
    parts.push_back(Partition::of(std::move(chunk)));
  }
  return parts;
}

}  // namespace trib
