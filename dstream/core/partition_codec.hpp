// How a partition's records become Cereal bytes and back: the one place
// partitions meet Cereal. Included where typed partitions are made or read
// (the DStream operators, text blocks, tests), never by the job graph, so
// the graph and the runtime's messages compile without Cereal.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
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

#include "dstream/core/cereal_bytes.hpp"
#include "dstream/core/owned.hpp"
#include "dstream/core/partition.hpp"
#include "dstream/core/text.hpp"
#include "dstream/core/view_decode.hpp"

namespace trib {

// Whether records of type T can cross processes and go into checkpoints:
// Cereal can write T and read its owned form.
template <class T>
inline constexpr bool serializable_record_v =
    cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value &&
    cereal::traits::is_input_serializable<owned_t<T>, cereal::BinaryInputArchive>::value;

template <class T>
struct PartitionCodec {
  static std::string encode(const std::vector<T>& rows) {
    if constexpr (cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value) {
      return to_cereal_bytes(rows);
    } else {
      throw std::runtime_error(std::string("record type has no Cereal serialize(): ") +
                               typeid(T).name());
    }
  }

  // Records holding views point into the bytes themselves where their
  // layout allows (view_decode.hpp), else decode as their owned form; the
  // new partition keeps whichever they point into as its owner.
  static std::shared_ptr<const TypedPartition<T>> decode(std::shared_ptr<const std::string> kept) {
    using O = owned_t<T>;
    const std::string& bytes = *kept;
    if constexpr (holds_views_v<T> && view_decodable_v<T>) {
      ViewReader reader(bytes.data(), bytes.size());
      auto rows = reader.template read_vector<T>();
      return std::make_shared<const TypedPartition<T>>(std::move(rows), std::vector<uint64_t>{},
                                                       std::move(kept));
    } else if constexpr (cereal::traits::is_input_serializable<O, cereal::BinaryInputArchive>::value) {
      auto decoded = std::make_shared<std::vector<O>>();
      from_cereal_bytes(bytes, *decoded);
      if constexpr (holds_views_v<T>) {
        std::vector<T> rows;
        rows.reserve(decoded->size());
        for (const auto& x : *decoded) rows.push_back(owned<T>::view(x));
        return std::make_shared<const TypedPartition<T>>(std::move(rows), std::vector<uint64_t>{},
                                                         std::move(decoded));
      } else {
        return std::make_shared<const TypedPartition<T>>(std::move(*decoded));
      }
    } else {
      throw std::runtime_error(std::string("record type has no Cereal serialize(): ") +
                               typeid(T).name());
    }
  }
};

}  // namespace trib
