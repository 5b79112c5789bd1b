#include "recovery/checkpoint.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <cereal/archives/binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <spdlog/spdlog.h>

#include "recovery/checksum.hpp"
#include "recovery/durable_file.hpp"

namespace fs = std::filesystem;

namespace trib {
namespace {

constexpr char kMagic[8] = {'T', 'R', 'I', 'B', 'C', 'K', 'P', 'T'};

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

template <class T>
T get(const std::string& in, std::size_t& pos, const std::string& path) {
  if (pos + sizeof(T) > in.size())
    throw std::runtime_error("checkpoint " + path + " is truncated");
  T value;
  std::memcpy(&value, in.data() + pos, sizeof(T));
  pos += sizeof(T);
  return value;
}

// "checkpoint-<ms>.bin" -> ms, or -1.
int64_t time_of(const std::string& name) {
  const std::string prefix = "checkpoint-", suffix = ".bin";
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  try {
    return std::stoll(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
  } catch (...) {
    return -1;
  }
}

}  // namespace

CheckpointStore::CheckpointStore(std::string dir, int keep) : dir_(std::move(dir)), keep_(keep) {
  if (keep_ < 1) throw std::invalid_argument("checkpoints to keep must be >= 1");
  make_directories(dir_);
}

void CheckpointStore::save(const Checkpoint& cp) {
  std::ostringstream payload_stream;
  {
    cereal::BinaryOutputArchive archive(payload_stream);
    archive(cp);
  }
  std::string payload = payload_stream.str();
  std::string file(kMagic, sizeof(kMagic));
  put<uint32_t>(file, kFormatVersion);
  put<uint64_t>(file, payload.size());
  file += payload;
  put<uint64_t>(file, fnv1a64(payload));
  write_file_durably(dir_ + "/checkpoint-" + std::to_string(cp.last_batch_time_ms) + ".bin", file);
  auto all = files();
  for (std::size_t i = static_cast<std::size_t>(keep_); i < all.size(); ++i) {
    std::error_code ec;
    fs::remove(all[i], ec);
  }
}

Checkpoint CheckpointStore::read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read checkpoint " + path);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < sizeof(kMagic) || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0)
    throw std::runtime_error("checkpoint " + path + " is not a Tributary checkpoint (bad magic)");
  std::size_t pos = sizeof(kMagic);
  auto version = get<uint32_t>(data, pos, path);
  if (version != kFormatVersion)
    throw std::runtime_error("checkpoint " + path + " has format version " +
                             std::to_string(version) + "; this build reads version " +
                             std::to_string(kFormatVersion));
  auto size = get<uint64_t>(data, pos, path);
  if (size > data.size() - pos) throw std::runtime_error("checkpoint " + path + " is truncated");
  std::string payload = data.substr(pos, size);
  pos += size;
  auto checksum = get<uint64_t>(data, pos, path);
  if (checksum != fnv1a64(payload))
    throw std::runtime_error("checkpoint " + path + " is corrupt (checksum mismatch)");
  Checkpoint cp;
  try {
    std::istringstream payload_stream(payload);
    cereal::BinaryInputArchive archive(payload_stream);
    archive(cp);
  } catch (const std::exception& e) {
    throw std::runtime_error("checkpoint " + path + " cannot be decoded: " + e.what());
  }
  return cp;
}

std::optional<Checkpoint> CheckpointStore::load_latest() const {
  for (const auto& path : files()) {
    try {
      return read_file(path);
    } catch (const std::exception& e) {
      spdlog::error("{}; falling back to the previous checkpoint", e.what());
    }
  }
  return std::nullopt;
}

std::vector<std::string> CheckpointStore::files() const {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(dir_, ec)) {
    int64_t t = time_of(entry.path().filename().string());
    if (t >= 0) found.emplace_back(t, entry.path().string());
  }
  std::sort(found.rbegin(), found.rend());
  std::vector<std::string> paths;
  for (auto& f : found) paths.push_back(f.second);
  return paths;
}

}  // namespace trib
