#include "actors/checkpoint_coordinator.hpp"

#include <filesystem>
#include <set>

#include "recovery/state_snapshot.hpp"

namespace trib {

CheckpointCoordinator::CheckpointCoordinator(std::string dir) : store_(std::move(dir)) {}

std::vector<CheckpointCoordinator::SnapshotRequest> CheckpointCoordinator::begin(
    Checkpoint base, std::vector<std::pair<caf::actor, std::string>> hosts) {
  base.state_files.clear();
  pending_ = Pending{std::move(base), 0};
  return requests(hosts);
}

std::vector<CheckpointCoordinator::SnapshotRequest> CheckpointCoordinator::retake(
    std::vector<std::pair<caf::actor, std::string>> hosts) {
  if (!pending_) return {};
  pending_->cp.state_files.clear();
  return requests(hosts);
}

std::vector<CheckpointCoordinator::SnapshotRequest> CheckpointCoordinator::requests(
    const std::vector<std::pair<caf::actor, std::string>>& hosts) {
  int round = ++round_;
  pending_->outstanding = hosts.size();
  std::vector<SnapshotRequest> out;
  for (auto& [host, label] : hosts)
    out.push_back({host, label,
                   store_.dir() + "/" + state_snapshot_name(pending_->cp.last_batch_time_ms, label), round});
  return out;
}

bool CheckpointCoordinator::snapshot_written(int round, const std::string& path,
                                             const HostSnapshot& snapshot) {
  if (!current(round) || pending_->outstanding == 0) return false;
  std::string file = path.substr(path.find_last_of('/') + 1);
  for (std::size_t i = 0; i < snapshot.nodes.size() && i < snapshot.partitions.size(); ++i)
    pending_->cp.state_files[{snapshot.nodes[i], snapshot.partitions[i]}] = file;
  return --pending_->outstanding == 0;
}

Checkpoint CheckpointCoordinator::write() {
  Checkpoint cp = std::move(pending_->cp);
  pending_.reset();
  store_.save(cp);
  return cp;
}

int64_t CheckpointCoordinator::bytes_on_disk(const Checkpoint& cp) const {
  std::set<std::string> files{"checkpoint-" + std::to_string(cp.last_batch_time_ms) + ".bin"};
  for (auto& [key, file] : cp.state_files) files.insert(file);
  int64_t total = 0;
  for (auto& f : files) {
    std::error_code ec;
    auto size = std::filesystem::file_size(store_.dir() + "/" + f, ec);
    if (!ec) total += static_cast<int64_t>(size);
  }
  return total;
}

}  // namespace trib
