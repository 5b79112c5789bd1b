#include "actors/host_outbox.hpp"

namespace trib {

void HostOutbox::send_task(const caf::actor& host, TaskSpec spec) {
  status_.task_sent(host.node());
  self_->send(host, std::move(spec));
}

void HostOutbox::send_restore(const caf::actor& host, const PartitionKey& key, std::string bytes) {
  self_->send(host, restore_atom::value, key.first, key.second, std::move(bytes));
}

void HostOutbox::send_drop(const caf::actor& host, const PartitionKey& key) {
  self_->send(host, drop_atom::value, key.first, key.second);
}

}  // namespace trib
