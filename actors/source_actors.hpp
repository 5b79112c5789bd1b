// The actors that feed the coordinator its input, as the coordinator's thread
// drives them: one receiver actor per receiver stream (actors/receiver_actor.hpp)
// and one poller per source whose poll may block (actors/source_poller.hpp).
// Wiring only: it spawns and monitors them on the coordinator's behalf, asks
// them for each batch's block, passes on what a checkpoint released, stops
// them, and names the one a down message is about. Which sources exist and
// what may be released is the source tracker's (actors/source_tracker.hpp).
// Runs on the coordinator's thread only (it uses the coordinator's self).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/coordinator.hpp"
#include "actors/receiver_actor.hpp"
#include "actors/source_poller.hpp"
#include "actors/source_tracker.hpp"

namespace trib {

class SourceActors {
 public:
  using Failed = std::function<void(const std::string& why)>;
  // A receiver's health, for the status page, as it is spawned.
  using ReceiverStarted = std::function<void(int source, std::shared_ptr<ReceiverHealth>)>;

  SourceActors(caf::event_based_actor* self, const CoordinatorConfig& cfg) : self_(self), cfg_(cfg) {}

  // Spawns the actors of `sources` (the graph's sources the job needs):
  // a poller for each whose poll may block, a receiver for each with one.
  // Receivers log to the checkpoint directory's write-ahead log and, in a
  // restarted job, replay what no checkpointed batch covers.
  struct Spawned {
    std::set<int> with_receiver, polled_elsewhere;
  };
  // Receivers of `slotted` hand over their input in slots on request
  // (map-ahead, see request_slot).
  Spawned spawn(const std::vector<int>& sources, const std::set<int>& slotted, const ReceiverStarted& started);

  // The receivers whose input is mapped ahead, slot by slot.
  const std::set<int>& slotted() const { return slotted_; }
  // No more slot requests to `id`: its input comes whole at each close.
  void stop_slots(int id) { slotted_.erase(id); }

  std::size_t receivers() const { return receivers_.size(); }

  // Asks source `id` (one with a receiver or a poller) for batch `t`'s block:
  // a receiver's records since its last flush, a poller's poll of `t` (read
  // exactly up to `replay_end` when that is not empty: a logged batch formed
  // again, see SourceTracker::replay_end).
  void request_block(int id, int64_t t, const std::string& replay_end, std::function<void(ReceivedBlock&)> delivered,
                     Failed failed);

  // Asks slotted receiver `id` for the lines it accepted since its last
  // slot or flush, as one partition of the interval still open.
  void request_slot(int id, std::function<void(ReceivedBlock&)> delivered, Failed failed);

  // Input up to these positions is durably done: receivers truncate their
  // logs, pollers commit to their sources.
  void release(const SourceTracker::Release& release);

  // A new checkpointed job's first checkpoint is durable: receivers start
  // reading (they wait for it; see ReceiverOptions::start_gate). Idempotent.
  void open_start_gate() {
    if (start_gate_) start_gate_->set();
  }

  // Backpressure: every receiver's new ingest rate.
  void set_rate(double records_per_s);

  // `ended` runs once every receiver's input has ended (a bounded source,
  // ReceiverContext::end_of_input), when receivers feed every source of the
  // job; never otherwise. Call once, after spawn().
  void on_all_inputs_ended(std::function<void()> ended);
  // Stops every receiver (there is at least one); `stopped` runs once each
  // buffered everything it accepted.
  void stop_receivers(std::function<void()> stopped, Failed failed);

  // Why the job cannot go on when `source`, one of these actors, went down;
  // empty when it is none of them.
  std::string died(const caf::actor_addr& source, const std::string& reason) const;

  // Ends every one of them (the job ended).
  void shutdown();

 private:
  // Asks every receiver `msg`; `all` runs once each answered with a Reply,
  // `error` for one that could not answer.
  template <class Reply, class Msg>
  void ask_every_receiver(Msg msg, std::function<void()> all, std::function<void(int id, caf::error&)> error);

  caf::event_based_actor* self_;
  const CoordinatorConfig& cfg_;
  std::map<int, receiver_actor> receivers_;     // by source node id
  std::set<int> slotted_;
  std::map<int, source_poller_actor> pollers_;  // by source node id
  bool only_receivers_ = false;  // every source of the job has a receiver
  std::shared_ptr<OneShotSignal> start_gate_;  // a new checkpointed job's receivers wait on it
};

}  // namespace trib
