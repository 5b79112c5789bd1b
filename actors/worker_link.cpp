#include "actors/worker_link.hpp"

#include <spdlog/spdlog.h>

namespace trib {

std::string WorkerLink::join(const caf::actor& host, const std::string& fingerprint) {
  auto& membership = parts_.membership;
  auto joined = membership.admit(host, fingerprint, std::chrono::steady_clock::now());
  JobEvent e;
  if (!joined.worker) {
    e.kind = JobEvent::Kind::worker_refused;
    e.reason = joined.refusal;
    parts_.monitor->event(std::move(e));
    return joined.refusal;
  }
  self_->monitor(host);
  spdlog::info("{} ({}) joined; {} workers", joined.worker->label, to_string(host.node()),
               membership.pool().size());
  e.kind = JobEvent::Kind::worker_joined;
  e.worker = joined.worker->label;
  e.workers = static_cast<int64_t>(membership.pool().size());
  parts_.monitor->event(std::move(e));
  return {};
}

void WorkerLink::check(std::chrono::steady_clock::time_point now) {
  auto& membership = parts_.membership;
  auto check = membership.check(now);
  for (auto& host : check.ping)
    self_->request(host, membership.timeout(), ping_atom::value)
        .then([&membership, addr = host.address()](ping_atom) {
                membership.pong(addr, std::chrono::steady_clock::now());
              },
              [&membership, addr = host.address()](caf::error&) { membership.ping_failed(addr); });
  auto late = parts_.placement.overdue(now, membership.timeout());
  check.lost.insert(check.lost.end(), late.begin(), late.end());
  for (auto& [addr, why] : check.lost) {
    Worker* w = membership.pool().find(addr);
    if (!w) continue;  // given up on for two reasons at once
    caf::actor handle = w->host;
    self_->demonitor(handle);
    lose(addr, why);
    // Should it wake up, it learns why its work went elsewhere.
    self_->send(handle, evicted_atom::value, why);
  }
}

bool WorkerLink::lose(const caf::actor_addr& host, const std::string& why) {
  std::string label;
  if (!parts_.membership.remove(host, &label)) return false;
  auto now = std::chrono::steady_clock::now();
  JobEvent lost;
  lost.kind = JobEvent::Kind::worker_lost;
  lost.worker = label;
  lost.reason = why;
  lost.tasks = static_cast<int64_t>(parts_.dispatcher.on(host));
  lost.partitions = static_cast<int64_t>(parts_.placement.on(host));
  lost.workers = static_cast<int64_t>(parts_.membership.pool().size());
  parts_.status.worker_lost(label, host.node(), why);
  spdlog::warn("lost {} ({}); running its {} unfinished tasks again and restoring its {} state "
               "partitions from the last checkpoint; {} workers left",
               label, why, lost.tasks, lost.partitions, lost.workers);
  parts_.monitor->event(std::move(lost));
  parts_.dispatcher.lose_worker(host, now);
  parts_.executor.lose_kept_outputs(host);
  try {
    parts_.placement.lose_worker(host, now);
  } catch (const std::exception& e) {
    failed_("cannot restore the state partitions of " + label + ": " + e.what());
    return true;
  }
  // Snapshots being collected may miss the lost worker's: start over.
  if (parts_.checkpoints) parts_.checkpoints->retake();
  return true;
}

}  // namespace trib
