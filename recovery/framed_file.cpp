#include "recovery/framed_file.hpp"

#include <cstring>
#include <stdexcept>

#include "dstream/core/checksum.hpp"
#include "recovery/durable_file.hpp"

namespace trib {
namespace {

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

template <class T>
T get(const std::string& in, std::size_t& pos, const std::string& what) {
  if (pos + sizeof(T) > in.size()) throw std::runtime_error(what + " is truncated");
  T value;
  std::memcpy(&value, in.data() + pos, sizeof(T));
  pos += sizeof(T);
  return value;
}

}  // namespace

std::string frame(const FrameKind& kind, const std::string& payload) {
  std::string file(kind.magic, 8);
  put<uint32_t>(file, kind.version);
  put<uint64_t>(file, payload.size());
  file += payload;
  put<uint64_t>(file, checksum64(payload));
  return file;
}

std::string unframe(const FrameKind& kind, const std::string& data, const std::string& path) {
  std::string what = std::string(kind.noun) + " " + path;
  if (data.size() < 8 || std::memcmp(data.data(), kind.magic, 8) != 0)
    throw std::runtime_error(what + " is not a Tributary " + kind.noun + " (bad magic)");
  std::size_t pos = 8;
  auto version = get<uint32_t>(data, pos, what);
  bool fnv = kind.fnv_version != 0 && version == kind.fnv_version;
  if (version != kind.version && !fnv)
    throw std::runtime_error(what + " has format version " + std::to_string(version) +
                             "; this build reads version " + std::to_string(kind.version) +
                             (kind.fnv_version ? " and " + std::to_string(kind.fnv_version) : std::string()));
  auto size = get<uint64_t>(data, pos, what);
  if (size > data.size() - pos) throw std::runtime_error(what + " is truncated");
  std::string payload = data.substr(pos, size);
  pos += size;
  if (get<uint64_t>(data, pos, what) != (fnv ? fnv1a64(payload) : checksum64(payload)))
    throw std::runtime_error(what + " is corrupt (checksum mismatch)");
  return payload;
}

std::string read_framed_file(const FrameKind& kind, const std::string& path) {
  return unframe(kind, read_whole_file(path, kind.noun), path);
}

}  // namespace trib
