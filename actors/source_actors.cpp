#include "actors/source_actors.hpp"

namespace trib {

SourceActors::Spawned SourceActors::spawn(const std::vector<int>& sources, const std::set<int>& slotted,
                                          const ReceiverStarted& started) {
  Spawned spawned;
  auto& sys = self_->system();
  for (int id : sources) {
    auto& source = static_cast<const SourceNode&>(*cfg_.graph->nodes[id]);
    if (source.blocking()) {  // a slow read must not stall the coordinator
      spawned.polled_elsewhere.insert(id);
      pollers_[id] = spawn_source_poller(sys, cfg_.graph, id);
      self_->monitor(pollers_[id]);
    }
    auto* factory = source.receiver();
    if (!factory) continue;
    spawned.with_receiver.insert(id);
    ReceiverOptions opts;
    opts.max_rate = cfg_.max_rate_per_receiver;
    opts.batch_interval = std::chrono::milliseconds(cfg_.graph->batch_interval_ms);
    opts.slots_on_request = slotted.count(id) > 0;
    if (opts.slots_on_request) slotted_.insert(id);
    if (!cfg_.checkpoint_dir.empty()) {
      opts.log_dir = cfg_.checkpoint_dir;
      opts.resume = cfg_.recovered.has_value();
      if (opts.resume) opts.replay_from = replay_position(*cfg_.recovered, id);
      opts.accept_wal_loss = cfg_.accept_wal_loss;
      if (!opts.resume) {
        if (!start_gate_) start_gate_ = std::make_shared<OneShotSignal>();
        opts.start_gate = start_gate_;
      }
    }
    opts.health = std::make_shared<ReceiverHealth>();
    started(id, opts.health);
    auto r = spawn_receiver(sys, id, *factory, cfg_.receiver_partitions, cfg_.monitor, opts);
    self_->monitor(r);
    receivers_[id] = r;
  }
  only_receivers_ = !receivers_.empty() && spawned.with_receiver.size() == sources.size();
  return spawned;
}

void SourceActors::request_block(int id, int64_t t, const std::string& replay_end,
                                 std::function<void(ReceivedBlock&)> delivered, Failed failed) {
  auto on_block = [delivered = std::move(delivered)](ReceivedBlock& block) { delivered(block); };
  auto on_error = [this, id, t, failed](caf::error& err) {
    failed("source of stream " + std::to_string(id) + " did not deliver batch " + std::to_string(t) + ": " +
           self_->system().render(err));
  };
  if (auto r = receivers_.find(id); r != receivers_.end())
    self_->request(r->second, caf::infinite, flush_atom::value).then(on_block, on_error);
  else
    self_->request(pollers_.at(id), caf::infinite, poll_atom::value, t, replay_end).then(on_block, on_error);
}

void SourceActors::request_slot(int id, std::function<void(ReceivedBlock&)> delivered, Failed failed) {
  auto on_error = [this, id, failed](caf::error& err) {
    failed("receiver of stream " + std::to_string(id) + " did not hand over a slot: " + self_->system().render(err));
  };
  self_->request(receivers_.at(id), caf::infinite, slot_atom::value)
      .then([delivered = std::move(delivered)](ReceivedBlock& block) { delivered(block); }, on_error);
}

void SourceActors::release(const SourceTracker::Release& release) {
  for (auto& [id, pos] : release.truncate) self_->send(receivers_.at(id), truncate_atom::value, pos);
  for (auto& [id, pos] : release.commit) self_->send(pollers_.at(id), commit_atom::value, pos);
}

void SourceActors::set_rate(double records_per_s) {
  for (auto& [id, r] : receivers_) self_->send(r, rate_atom::value, records_per_s);
}

template <class Reply, class Msg>
void SourceActors::ask_every_receiver(Msg msg, std::function<void()> all,
                                      std::function<void(int id, caf::error&)> error) {
  auto pending = std::make_shared<std::size_t>(receivers_.size());
  for (auto& [id, r] : receivers_)
    self_->request(r, caf::infinite, msg)
        .then(
            [pending, all](Reply) {
              if (--*pending == 0) all();
            },
            [error, id = id](caf::error& err) { error(id, err); });
}

void SourceActors::on_all_inputs_ended(std::function<void()> ended) {
  if (!only_receivers_) return;
  // A receiver that ended with the job never answers: nothing to wait for.
  ask_every_receiver<input_end_atom>(input_end_atom::value, std::move(ended), [](int, caf::error&) {});
}

void SourceActors::stop_receivers(std::function<void()> stopped, Failed failed) {
  ask_every_receiver<done_atom>(stop_atom::value, std::move(stopped), [this, failed](int id, caf::error& err) {
    failed("receiver of stream " + std::to_string(id) + " failed to stop: " + self_->system().render(err));
  });
}

std::string SourceActors::died(const caf::actor_addr& source, const std::string& reason) const {
  for (auto& [id, r] : receivers_)
    if (r.address() == source) return "receiver of stream " + std::to_string(id) + " died: " + reason;
  for (auto& [id, p] : pollers_)
    if (p.address() == source) return "the poller of stream " + std::to_string(id) + " died: " + reason;
  return {};
}

void SourceActors::shutdown() {
  for (auto& [id, r] : receivers_) self_->send_exit(r, caf::exit_reason::user_shutdown);
  // In order after the last commits (an exit message would overtake them and
  // leave the last batch's entries unacknowledged).
  for (auto& [id, p] : pollers_) self_->send(p, stop_atom::value);
  receivers_.clear();
  pollers_.clear();
}

}  // namespace trib
