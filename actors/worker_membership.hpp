// Worker membership (Flink's HeartbeatManager): who may join, who is alive,
// and whether enough workers joined to start. It detects; the coordinator
// reacts (moves the lost worker's tasks and state).
//
// A worker joins with the fingerprint of the pipeline it declared; one that
// differs is refused without being told ours. Every check the coordinator
// pings each worker with no ping out; a worker that answered none for the
// timeout is reported lost.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/worker_pool.hpp"

namespace trib {

// How a refusal of a worker process given up on earlier begins; the worker
// takes it as an eviction (actors/worker_actor.cpp).
inline constexpr const char* kGivenUpRefusal = "the coordinator gave up on this worker process earlier";

struct MembershipPolicy {
  int64_t worker_timeout_ms = 10000;
  // Before the first batch, wait for this many workers, at most min_workers_wait_ms.
  int min_workers = 0;
  int64_t min_workers_wait_ms = 30000;
};

class WorkerMembership {
 public:
  using clock = std::chrono::steady_clock;

  WorkerMembership(std::string graph_fingerprint, MembershipPolicy policy);

  // The job starts now: the min-workers wait begins.
  void start(clock::time_point now);

  // A worker asks to join with the fingerprint of its pipeline. Returns the
  // new worker, or an error that names no detail of this job's pipeline.
  struct Admission {
    Worker* worker = nullptr;
    std::string refusal;  // set when refused
  };
  Admission admit(caf::actor host, const std::string& worker_fingerprint, clock::time_point now);

  // May the first batches start? False while waiting for min_workers (until
  // the wait is over); logs once when the wait ends.
  bool gate_open(clock::time_point now);
  bool waiting() const { return awaiting_; }

  // The periodic check: workers to ping (ping_out is set on each), and those
  // that answered no ping for the timeout.
  struct Check {
    std::vector<caf::actor> ping;
    std::vector<std::pair<caf::actor_addr, std::string>> lost;
  };
  Check check(clock::time_point now);
  void pong(const caf::actor_addr& host, clock::time_point now);  // a ping was answered
  void ping_failed(const caf::actor_addr& host);                   // it may be tried again

  // Removes the worker; false if it is not (any more) a member. Its process
  // (CAF node) may not join again: with CAF 0.17 a node keeps its id and the
  // other workers' routes to it stay broken (fetching shuffle blocks from it
  // fails for ever), so admit() refuses it with kGivenUpRefusal, and the
  // worker starts a new process (a new node) to rejoin.
  bool remove(const caf::actor_addr& host, std::string* label = nullptr);

  WorkerPool& pool() { return pool_; }
  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(policy_.worker_timeout_ms); }

 private:
  std::string fingerprint_;
  MembershipPolicy policy_;
  WorkerPool pool_;
  bool awaiting_ = false;
  clock::time_point deadline_;
  std::vector<std::pair<caf::node_id, std::string>> given_up_;  // (node, its label then)
};

}  // namespace trib
