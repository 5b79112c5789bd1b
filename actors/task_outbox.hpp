// What the coordinator's parts send to partition hosts (this process's or a
// worker's), as calls: the actor shell turns them into messages, tests
// record them.
#pragma once

#include <string>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "recovery/state_snapshot.hpp"

namespace trib {

class TaskOutbox {
 public:
  virtual ~TaskOutbox() = default;
  virtual void send_task(const caf::actor& host, TaskSpec spec) = 0;
  // Sets state partition `key` on `host` to `bytes` (before any task of it).
  virtual void send_restore(const caf::actor& host, const PartitionKey& key, std::string bytes) = 0;
  // `host` no longer holds state partition `key`.
  virtual void send_drop(const caf::actor& host, const PartitionKey& key) = 0;
};

}  // namespace trib
