#include "recovery/checkpoint.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <spdlog/spdlog.h>

#include "dstream/core/cereal_bytes.hpp"
#include "recovery/durable_file.hpp"
#include "recovery/framed_file.hpp"
#include "recovery/state_snapshot.hpp"

namespace fs = std::filesystem;

namespace trib {
namespace {

// Version 2 had the same payload under an FNV-1a checksum.
constexpr FrameKind kCheckpoint{"TRIBCKPT", CheckpointStore::kFormatVersion, 2, "checkpoint"};

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

int64_t replay_position(const Checkpoint& cp, int32_t source) {
  auto pos = cp.source_positions.find(source);
  return pos == cp.source_positions.end() || pos->second.empty() ? 0 : std::stoll(pos->second);
}

CheckpointStore::CheckpointStore(std::string dir, int keep) : dir_(std::move(dir)), keep_(keep) {
  if (keep_ < 1) throw std::invalid_argument("checkpoints to keep must be >= 1");
  make_directories(dir_);
}

void CheckpointStore::save(const Checkpoint& cp) {
  write_file_durably(dir_ + "/checkpoint-" + std::to_string(cp.last_batch_time_ms) + ".bin",
                     frame(kCheckpoint, to_cereal_bytes(cp)));
  auto all = files();
  for (std::size_t i = static_cast<std::size_t>(keep_); i < all.size(); ++i) {
    std::error_code ec;
    fs::remove(all[i], ec);
  }
  // State files belong to the checkpoint of their batch time: those older
  // than the oldest kept checkpoint are named by none.
  int64_t oldest_kept = time_of(fs::path(all[std::min(all.size(), std::size_t(keep_)) - 1]).filename().string());
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(dir_, ec)) {
    int64_t t = state_snapshot_time(entry.path().filename().string());
    if (t >= 0 && t < oldest_kept) fs::remove(entry.path(), ec);
  }
}

Checkpoint CheckpointStore::read_file(const std::string& path) {
  std::string payload = read_framed_file(kCheckpoint, path);
  Checkpoint cp;
  try {
    from_cereal_bytes(payload, cp);
  } catch (const std::exception& e) {
    throw std::runtime_error("checkpoint " + path + " cannot be decoded: " + e.what());
  }
  return cp;
}

void CheckpointStore::load_states(Checkpoint& cp) const {
  StateSnapshotReader reader(dir_);
  for (auto& [key, file] : cp.state_files) cp.partition_states[key] = reader.partition(file, key);
}

std::optional<Checkpoint> CheckpointStore::load_latest(std::vector<std::string>* unreadable) const {
  for (const auto& path : files()) {
    std::string why;
    try {
      Checkpoint cp = read_file(path);
      try {
        load_states(cp);
        return cp;
      } catch (const std::exception& e) {
        why = "checkpoint " + path + " cannot be restored: " + e.what();
      }
    } catch (const std::exception& e) {
      why = e.what();  // names the file already
    }
    spdlog::error("{}; falling back to the previous checkpoint", why);
    if (unreadable) unreadable->push_back(why);
  }
  return std::nullopt;
}

std::map<int32_t, std::string> CheckpointStore::oldest_positions() const {
  auto all = files();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      return read_file(*it).source_positions;
    } catch (const std::exception&) {
      // Unreadable: no restart falls back to it, so it holds nothing back.
    }
  }
  return {};
}

std::optional<int64_t> CheckpointStore::oldest_batch_time() const {
  auto all = files();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      return read_file(*it).last_batch_time_ms;
    } catch (const std::exception&) {
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
