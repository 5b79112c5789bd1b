// The task outbox (actors/task_outbox.hpp) as the coordinator's thread sends
// it: tasks, restores and drops become messages to partition hosts, and each
// task sent is counted per node for the status page.
//
// Protocol (coordinator -> host, actors/partition_host.hpp):
//   TaskSpec;  (restore_atom, node, partition, bytes);  (drop_atom, node, partition)
// Hosts are dynamically typed handles: workers' hosts arrive over the
// network in a join message, and CAF 0.17 sends typed handles across nodes
// only as registered types; the protocol is checked on arrival instead.
#pragma once

#include <caf/all.hpp>

#include "actors/status_reporter.hpp"
#include "actors/task_outbox.hpp"

namespace trib {

class HostOutbox final : public TaskOutbox {
 public:
  HostOutbox(caf::event_based_actor* self, StatusReporter& status) : self_(self), status_(status) {}

  void send_task(const caf::actor& host, TaskSpec spec) override;
  void send_restore(const caf::actor& host, const PartitionKey& key, std::string bytes) override;
  void send_drop(const caf::actor& host, const PartitionKey& key) override;

 private:
  caf::event_based_actor* self_;
  StatusReporter& status_;
};

}  // namespace trib
