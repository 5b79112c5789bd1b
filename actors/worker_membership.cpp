#include "actors/worker_membership.hpp"

#include <spdlog/spdlog.h>

namespace trib {

WorkerMembership::WorkerMembership(std::string graph_fingerprint, MembershipPolicy policy)
    : fingerprint_(std::move(graph_fingerprint)), policy_(policy) {}

void WorkerMembership::start(clock::time_point now) {
  if (policy_.min_workers <= 0) return;
  awaiting_ = true;
  deadline_ = now + std::chrono::milliseconds(policy_.min_workers_wait_ms);
  spdlog::info("waiting for {} workers (at most {} ms) before the first batch", policy_.min_workers,
               policy_.min_workers_wait_ms);
}

WorkerMembership::Admission WorkerMembership::admit(caf::actor host, const std::string& worker_fingerprint,
                                                    clock::time_point now) {
  if (worker_fingerprint != fingerprint_) {
    // Only the coordinator's log names both: the refused peer learns nothing
    // about this job's pipeline.
    spdlog::error("refused a worker running a different pipeline (graph {}, ours {})",
                  worker_fingerprint, fingerprint_);
    return {nullptr, "the worker runs a different pipeline than the coordinator; "
                     "declare the same pipeline in both"};
  }
  for (auto& [node, label] : given_up_)
    if (host.node() == node) {
      spdlog::warn("refused {} ({}) rejoining from the same process: a new worker process must join",
                   label, to_string(node));
      return {nullptr, std::string(kGivenUpRefusal) + " (as " + label +
                           "); its tasks and state partitions moved to other workers; a new worker process must join"};
    }
  Worker& w = pool_.add(std::move(host), now);
  return {&w, {}};
}

bool WorkerMembership::gate_open(clock::time_point now) {
  if (!awaiting_) return true;
  bool enough = pool_.size() >= static_cast<std::size_t>(policy_.min_workers);
  if (!enough && now < deadline_) return false;
  awaiting_ = false;
  if (enough)
    spdlog::info("{} workers joined: starting", pool_.size());
  else
    spdlog::warn("only {} of {} workers joined within {} ms: starting anyway", pool_.size(),
                 policy_.min_workers, policy_.min_workers_wait_ms);
  return true;
}

WorkerMembership::Check WorkerMembership::check(clock::time_point now) {
  Check out;
  for (auto& w : pool_.all()) {
    if (now - w.last_heartbeat > timeout()) {
      out.lost.emplace_back(w.host.address(),
                            "no heartbeat for " + std::to_string(policy_.worker_timeout_ms) + " ms");
      continue;
    }
    if (w.ping_out) continue;
    w.ping_out = true;
    out.ping.push_back(w.host);
  }
  return out;
}

void WorkerMembership::pong(const caf::actor_addr& host, clock::time_point now) {
  if (Worker* w = pool_.find(host)) {
    w->last_heartbeat = now;
    w->ping_out = false;
  }
}

void WorkerMembership::ping_failed(const caf::actor_addr& host) {
  if (Worker* w = pool_.find(host)) w->ping_out = false;
}

bool WorkerMembership::remove(const caf::actor_addr& host, std::string* label) {
  std::string name;
  Worker* w = pool_.find(host);
  // Only remote processes: a worker in this process (tests, local workers)
  // shares the coordinator's node id.
  bool remote = w && w->host && w->host.node() != w->host.home_system().node();
  if (!pool_.remove(host, &name)) return false;
  if (remote) given_up_.emplace_back(host.node(), name);
  if (label) *label = name;
  return true;
}

}  // namespace trib
