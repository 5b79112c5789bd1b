#include "actors/coordinator_parts.hpp"

#include <chrono>
#include <set>

#include "actors/partition_host.hpp"

namespace trib {
namespace {

// A restarted job already spread its partitions once: it waits for its
// workers only as long as a live one takes to rejoin (its retries are at
// most 2 s apart: 5 s is ample) or the worker timeout, not the whole
// first-start wait.
int64_t min_workers_wait(const CoordinatorConfig& cfg) {
  if (!cfg.recovered) return cfg.min_workers_wait_ms;
  return std::min(cfg.min_workers_wait_ms, std::max<int64_t>(5000, cfg.worker_timeout_ms));
}

}  // namespace

CoordinatorParts::CoordinatorParts(caf::event_based_actor* self, CoordinatorConfig& cfg, ExecutorListener& batches,
                                   CheckpointRounds::Listener& checkpointed,
                                   std::function<void(const std::string&)> failed)
    : clock(cfg.graph->batch_interval_ms),
      executor(cfg.graph, cfg.max_concurrent_batches, batches),
      membership(fingerprint(*cfg.graph),
                 MembershipPolicy{cfg.worker_timeout_ms, cfg.min_workers, min_workers_wait(cfg)}),
      inputs(self, cfg) {
  auto& g = *cfg.graph;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  sink = spawn_sink(self->system(), cfg.graph, me);
  local_host = spawn_partition_host(self->system(), cfg.graph, me);
  self->monitor(sink);
  self->monitor(local_host);
  if (!cfg.status) cfg.status = std::make_shared<StatusBoard>();
  status.emplace(cfg.status, g, cfg.checkpoint_dir, cfg.progress_ms, wall_clock_ms(), std::chrono::steady_clock::now());
  auto events = [monitor = cfg.monitor](JobEvent e) { monitor->event(std::move(e)); };
  outbox.emplace(self, *status);
  dispatcher.emplace(g, membership.pool(), local_host, *outbox,
                     SpeculationPolicy{cfg.speculation, cfg.speculation_min_ms}, events, cfg.local_map_slots);
  placement.emplace(g, membership.pool(), local_host, *outbox, cfg.checkpoint_dir, events);
  std::vector<int> needed;
  for (auto id : g.sources)
    if (executor.needed(id)) needed.push_back(id);
  std::set<int> slotted;
  if (cfg.map_ahead_slots > 1)
    for (auto id : needed)
      if (executor.maps_ahead(id)) slotted.insert(id);
  auto spawned =
      inputs.spawn(needed, slotted, [this](int id, auto health) { status->receiver_started(id, health); });
  sources.emplace(g, needed, spawned.with_receiver, spawned.polled_elsewhere, cfg.backpressure);
  if (!cfg.checkpoint_dir.empty()) {
    checkpoints.emplace(self, g, cfg.checkpoint_dir, *status, events, checkpointed);
    sources->log_batches(cfg.checkpoint_dir, cfg.recovered ? &*cfg.recovered : nullptr);
  }
  workers.emplace(self,
                  WorkerLink::Parts{membership, *dispatcher, *placement, executor, *status,
                                    checkpoints ? &*checkpoints : nullptr, cfg.monitor},
                  std::move(failed));
}

}  // namespace trib
