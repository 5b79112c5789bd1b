#include "actors/coordinator.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include <spdlog/spdlog.h>

#include "actors/coordinator_parts.hpp"
#include "actors/job_lifecycle.hpp"
#include "actors/messages.hpp"
#include "dstream/core/map_ahead.hpp"
#include "io/line_splitter.hpp"
#include "recovery/fault_injection.hpp"

namespace trib {
namespace {

// The coordinator's part of the checkpoint after batch `index` (at `time`):
// the time origin, where each source resumes, the driver-side node states.
Checkpoint driver_checkpoint(const Graph& graph, const BatchExecutor& executor, int64_t zero_time, int64_t index,
                             int64_t time, std::map<int32_t, std::string> positions) {
  Checkpoint cp;
  cp.graph_fingerprint = fingerprint(graph);
  cp.batch_interval_ms = graph.batch_interval_ms;
  cp.zero_time_ms = zero_time;
  cp.next_batch_index = index + 1;
  cp.last_batch_time_ms = time;
  cp.source_positions = std::move(positions);
  for (auto& n : graph.nodes)
    if (executor.needed(n->id))
      if (auto bytes = n->save_state(); !bytes.empty()) cp.node_states[n->id] = bytes;
  return cp;
}

// Puts the job back where checkpoint `cp` left it, before the first batch
// (Spark's JobGenerator.restart): the clock, the sources' positions, the
// driver-side node states; state partitions are placed (and restored
// there) when first used.
void restore_job(const Checkpoint& cp, const Graph& graph, BatchClock& clock, SourceTracker& sources,
                 StatePlacement& placement, JobMonitor& monitor) {
  clock.restore(cp.zero_time_ms, cp.next_batch_index);
  sources.seek(cp.source_positions);
  for (auto& [id, bytes] : cp.node_states) graph.nodes.at(id)->restore_state(bytes);
  placement.recover(cp);
  spdlog::info("recovered from checkpoint of batch {}: resuming with batch {}, {} state "
               "partitions to restore",
               cp.last_batch_time_ms, cp.last_batch_time_ms + graph.batch_interval_ms, cp.partition_states.size());
  JobEvent e;
  e.kind = JobEvent::Kind::recovered;
  e.batch_time = cp.last_batch_time_ms;
  e.partitions = static_cast<int64_t>(cp.partition_states.size());
  monitor.event(std::move(e));
}

// ", watermark W, N late records" for an event-time batch's log line.
std::string watermark_text(const BatchInfo& info) {
  if (!info.watermark_ms) return {};
  return fmt::format(", watermark {}, {} late records", *info.watermark_ms, info.late_records);
}

struct CoordinatorState {
  CoordinatorConfig cfg;
};

using coordinator_actor = caf::stateful_actor<CoordinatorState>;

// The actor shell: routes messages to the parts (built and owned by
// actors/coordinator_parts.hpp) and wires their events to each other; the
// phase and the stop are JobLifecycle's (actors/job_lifecycle.hpp). All of it
// runs on the coordinator's one thread, so the invariants between the parts
// stay synchronous.
class Coordinator final : public ExecutorListener, public CheckpointRounds::Listener {
 public:
  Coordinator(coordinator_actor* self, CoordinatorConfig cfg)
      : self_(self),
        cfg_(std::move(cfg)),
        graph_(cfg_.graph),
        lifecycle_(cfg_.stop_after_batches),
        p_(self, cfg_, *this, *this, [this](const std::string& why) { fail(why); }) {}

  void start() {
    auto& g = *graph_;
    p_.clock.start(wall_clock_ms());
    p_.membership.start(steady::now());
    if (cfg_.min_workers > 0) {
      checks_scheduled_ = true;
      schedule_check();
    }
    if (cfg_.recovered)
      restore_job(*cfg_.recovered, *graph_, p_.clock, *p_.sources, *p_.placement, *cfg_.monitor);
    else if (p_.checkpoints)
      // Fixes the job's time origin and source positions before the first
      // batch, so a crash at any moment resumes this job, never a new one.
      take_checkpoint(-1, p_.clock.zero_time(), p_.sources->positions());
    spdlog::info("job started: {} nodes, {} outputs, {} receivers, batch interval {} ms", g.nodes.size(),
                 g.outputs.size(), p_.inputs.receivers(), g.batch_interval_ms);
    schedule_tick();
    self_->delayed_send(self_, std::chrono::seconds(1), status_atom::value);
    // Bounded input (ReceiverContext::end_of_input): the job ends with it,
    // its open interval closed at once rather than at its end.
    p_.inputs.on_all_inputs_ended([this] {
      if (lifecycle_.stopping() || lifecycle_.finished()) return;
      spdlog::info("every receiver reached the end of its input: the open interval closes now and the job "
                   "ends once everything accepted is processed");
      input_ended_ = true;
      on_stop(true);
    });
  }

  // ---- messages ----------------------------------------------------------------

  void on_tick() {
    switch (lifecycle_.tick(p_.clock.next_index())) {
      case JobLifecycle::Tick::ignore:
        return;
      case JobLifecycle::Tick::last_passed:
        spdlog::info("batch {} was the last (stop after {} batches)", cfg_.stop_after_batches - 1,
                     cfg_.stop_after_batches);
        maybe_finish_draining();
        return;
      case JobLifecycle::Tick::close:
        close_interval();
        schedule_tick();
    }
  }

  // Map-ahead: a slot boundary of the open interval ending at `t`. The
  // slotted receivers hand over what they accepted since the last one, and
  // its map tasks start now. A slot request is sent before that interval's
  // flush (or not at all), and a receiver answers in order, so every slot
  // belongs to batch t.
  void on_slot(int64_t t) {
    int64_t k = p_.clock.next_index();
    if (p_.clock.time_of(k) != t || !lifecycle_.will_close(k)) return;
    if (cfg_.map_ahead_adaptive) stop_slots_that_do_not_pay();
    for (int id : p_.inputs.slotted())
      p_.inputs.request_slot(
          id,
          [this, t, k, id](ReceivedBlock& block) {
            if (block.partitions.empty() || block.records == 0) return;  // nothing came in
            ++cfg_.monitor->slots_mapped_ahead;
            spdlog::debug("batch {}: a slot of {} records of stream {} mapped ahead in {} partitions", t,
                          block.records, id, block.partitions.size());
            p_.executor.add_slot(t, k, id, std::move(block.partitions), cfg_.map_ahead_slots);
          },
          [this](const std::string& why) { fail(why); });
  }

  // Adaptive map-ahead: a source whose slots' tables keep most records as
  // keys goes back to handing over its input at the close, for the rest of
  // the job (dstream/core/map_ahead.hpp).
  void stop_slots_that_do_not_pay() {
    std::vector<int> stop;
    for (int id : p_.inputs.slotted())
      if (!p_.executor.map_ahead_pays(id)) stop.push_back(id);
    for (int id : stop) {
      p_.inputs.stop_slots(id);
      spdlog::info("map-ahead off for stream {}: its map-side combine kept 1 key in {:.1f} records (fewer than "
                   "{}), so each slot's keys would be merged again; its input now comes whole at each close",
                   id, p_.executor.ahead_records_per_key(id), kMinRecordsPerKey);
    }
    // Whole intervals wait in the buffers longer than slots did.
    if (!stop.empty() && p_.inputs.slotted().empty() && cfg_.receive_buffer_without_slots > 0)
      set_receive_buffer_budget(cfg_.receive_buffer_without_slots);
  }

  void on_task_result(TaskResult& res) {
    auto now = steady::now();
    if (auto& sender = self_->current_sender()) p_.status->task_answered(sender->node());
    // Kept map outputs live on the worker that sent the result.
    caf::actor keeper;
    if (res.kept && res.error.empty()) {
      Worker* w = p_.membership.pool().find(caf::actor_cast<caf::actor_addr>(self_->current_sender()));
      if (!w) return;  // a lost worker's: its task runs again
      keeper = w->host;
    }
    p_.dispatcher->finished(res, now);
    if (res.id.node < 0 || res.id.node >= static_cast<int32_t>(graph_->nodes.size())) return;
    bool reduce = res.id.phase == Phase::reduce;
    if (reduce && graph_->nodes[res.id.node]->holds_partition_state() && !p_.placement->accept(res))
      return;  // from a placement given up on
    p_.executor.task_finished(res, keeper, now);
  }

  void on_batch_emitted(const BatchEmitted& done) {
    if (!done.error.empty()) {
      fail("batch " + std::to_string(done.batch_time) + ": " + done.error);
      return;
    }
    p_.executor.batch_emitted(done.batch_time, steady::now());
  }

  caf::result<joined_atom> on_join(const caf::actor& host, const std::string& worker_graph) {
    if (auto refusal = p_.workers->join(host, worker_graph); !refusal.empty())
      return caf::make_error(caf::sec::runtime_error, refusal);
    if (!std::exchange(checks_scheduled_, true)) schedule_check();
    start_ready_batches();
    return joined_atom::value;
  }

  // Every 200 ms while workers exist or are awaited: heartbeats (a hung
  // worker answers none), state tasks out longer than the worker timeout
  // (their worker is given up on), and speculative copies of slow tasks.
  void on_check() {
    if (lifecycle_.finished()) return;
    auto now = steady::now();
    if (p_.membership.waiting()) start_ready_batches();
    p_.workers->check(now);
    p_.dispatcher->speculate(now);
    schedule_check();
  }

  // Every second: the status page's figures, and the progress line when due.
  void on_status() {
    if (lifecycle_.finished()) return;
    publish_status();
    self_->delayed_send(self_, std::chrono::seconds(1), status_atom::value);
  }

  void on_stop(bool graceful) {
    if (!graceful) {
      spdlog::info("stopping now; {} batches in flight are abandoned", p_.executor.batches());
      finish("");
      return;
    }
    if (!lifecycle_.begin_stop()) return;
    spdlog::info("stopping gracefully: stopping receivers, then processing all received data");
    if (p_.inputs.receivers() == 0) {
      lifecycle_.final_interval_closed();
      maybe_finish_draining();
      return;
    }
    p_.inputs.stop_receivers(
        [this] {
          // Every record the receivers accepted is buffered in them: one
          // last interval takes it all. After the end of the input it is
          // the last batch there will be: it fires what waits for more.
          close_interval(input_ended_);
          lifecycle_.final_interval_closed();
          maybe_finish_draining();
        },
        [this](const std::string& why) { fail(why); });
  }

  // A worker lost is recovered from; any other actor of the job lost ends
  // it with the reason, rather than leave awaitTermination() waiting for ever.
  void on_down(const caf::down_msg& msg) {
    auto reason = self_->system().render(msg.reason);
    if (p_.workers->lose(msg.source, reason)) return;
    if (auto why = p_.inputs.died(msg.source, reason); !why.empty())
      fail(why);
    else if (msg.source == p_.sink.address())
      fail("the output sink died: " + reason);
    else if (msg.source == p_.local_host.address())
      fail("this process's partition host died: " + reason);
  }

  // ---- ExecutorListener ----------------------------------------------------------

  void task_ready(TaskSpec spec, bool state) override {
    if (state)
      p_.placement->run(std::move(spec), steady::now());
    else
      p_.dispatcher->run(std::move(spec), steady::now());
  }

  void output_ready(int64_t time, int32_t node, Dataset data) override {
    self_->send(p_.sink, OutputReady{time, node, std::move(data)});
  }

  void batch_completed(const CompletedBatch& done) override {
    const BatchInfo& info = done.info;
    spdlog::debug("batch {}: {} records, processing {:.1f} ms, total delay {:.1f} ms{}", info.batch_time_ms,
                  info.input_records, info.processing_time_ms, info.total_delay_ms, watermark_text(info));
    for (auto& w : p_.membership.pool().all())
      self_->send(w.host, release_atom::value, info.batch_time_ms);  // its shuffle blocks
    cfg_.monitor->processed_records += info.input_records;
    if (auto rate = p_.sources->receiver_rate(info)) {
      cfg_.monitor->ingest_rate = *rate * static_cast<double>(p_.inputs.receivers());
      spdlog::debug("backpressure: ingest rate {:.0f} records/s per receiver", *rate);
      p_.inputs.set_rate(*rate);
    }
    p_.status->board().batch_completed(info, cfg_.monitor->received_records.load());
    cfg_.monitor->batch_completed(info);
    if (p_.checkpoints && (info.batch_index + 1) % cfg_.checkpoint_every == 0)
      take_checkpoint(info.batch_index, info.batch_time_ms, done.source_positions);
    else if (!p_.checkpoints)  // nothing will replay this batch: it is done
      release_input(done.source_positions);
    start_ready_batches();
    maybe_finish_draining();
  }

  void failed(const std::string& why) override { fail(why); }

  void event(JobEvent e) override { cfg_.monitor->event(std::move(e)); }

 private:
  void schedule_tick() {
    int64_t delay = p_.clock.delay_to_next_close(wall_clock_ms());
    self_->delayed_send(self_, std::chrono::milliseconds(delay), tick_atom::value);
    // The open interval's slot boundaries still ahead (map-ahead).
    if (p_.inputs.slotted().empty()) return;
    int64_t t = p_.clock.time_of(p_.clock.next_index());
    for (int64_t at : p_.clock.slot_delays(delay, cfg_.map_ahead_slots))
      self_->delayed_send(self_, std::chrono::milliseconds(at), slot_atom::value, t);
  }

  void schedule_check() {
    self_->delayed_send(self_, std::chrono::milliseconds(200), check_atom::value);
  }

  // Closes the next interval: receiver-less sources are polled now,
  // receivers asked for what they accepted; the batch forms when all answered.
  // last_of_input: the job's input ended; this batch is its last.
  void close_interval(bool last_of_input = false) {
    crash_point("interval-close");
    auto [t, k] = p_.clock.close_next();
    if (last_of_input) input_end_time_ = t;
    for (int id : p_.sources->interval_closed(t, k, steady::now()))
      p_.inputs.request_block(
          id, t, p_.sources->replay_end(t, id),
          [this, t = t](ReceivedBlock& block) {
            p_.status->block_delivered(block.source_node, block.records, graph_->batch_interval_ms);
            p_.sources->delivered(t, std::move(block));
            form(t);
          },
          [this](const std::string& why) { fail(why); });
    form(t);
  }

  // Batches form in time order: receivers answer flushes in order.
  void form(int64_t t) {
    auto batch = p_.sources->take_formed(t);
    if (!batch) return;
    batch->end_of_input = t == input_end_time_;
    auto outputs = p_.executor.add(std::move(*batch));
    self_->send(p_.sink, ExpectBatch{t, std::move(outputs)});
    start_ready_batches();
  }

  void start_ready_batches() {
    if (!lifecycle_.batches_may_start()) return;
    bool was_waiting = p_.membership.waiting();
    if (!p_.membership.gate_open(steady::now())) return;
    if (was_waiting) {
      JobEvent e;
      e.kind = JobEvent::Kind::workers_ready;
      e.workers = static_cast<int64_t>(p_.membership.pool().size());
      cfg_.monitor->event(std::move(e));
    }
    p_.executor.start_ready(steady::now());
  }

  void publish_status() {
    StatusReporter::Parts parts;
    parts.state = lifecycle_.describe();
    parts.batches_in_flight = static_cast<int64_t>(p_.executor.batches() + p_.sources->forming());
    parts.received_records = cfg_.monitor->received_records.load();
    parts.local_host = p_.local_host;
    parts.workers = &p_.membership.pool();
    parts.dispatcher = &*p_.dispatcher;
    parts.placement = &*p_.placement;
    p_.status->publish(parts, wall_clock_ms(), steady::now());
  }

  // ---- CheckpointRounds::Listener ---------------------------------------------------

  std::vector<std::pair<caf::actor, std::string>> snapshot_hosts() override {
    std::vector<std::pair<caf::actor, std::string>> hosts{{p_.local_host, "coordinator"}};
    for (auto& w : p_.membership.pool().all()) hosts.emplace_back(w.host, w.label);
    return hosts;
  }

  void checkpoint_written(const Checkpoint& cp, const std::map<int32_t, std::string>& replay_needed_from,
                          std::optional<int64_t> replay_needed_after) override {
    try {
      p_.placement->checkpoint_written(cp.state_files);
    } catch (const std::exception& e) {
      fail(std::string("cannot move state partitions: ") + e.what());
      return;
    }
    p_.inputs.open_start_gate();  // the first one: a crash from now on resumes this job
    // Input before the oldest kept checkpoint is needed by none: a restart
    // may fall back from this one to any older one still kept.
    release_input(replay_needed_from);
    p_.sources->batches_done_through(replay_needed_after);
    lifecycle_.checkpoint_written();
    start_ready_batches();
    maybe_finish_draining();
  }

  void checkpoint_failed(const std::string& why) override { fail(why); }

  // Batch `index` just completed and no other batch runs (checkpointing
  // needs max_concurrent_batches == 1): every partition's state is the state
  // after it. Each host writes the partitions it holds to its own state
  // file; the checkpoint names them. Batches wait until it is written.
  void take_checkpoint(int64_t index, int64_t time, std::map<int32_t, std::string> positions) {
    lifecycle_.checkpoint_started();
    p_.placement->place_unplaced();  // restored at start-up, not used since
    p_.checkpoints->begin(
        driver_checkpoint(*graph_, p_.executor, p_.clock.zero_time(), index, time, std::move(positions)));
  }

  // Input up to `positions` is durably done: tell the sources.
  void release_input(const std::map<int32_t, std::string>& positions) {
    p_.inputs.release(p_.sources->done_up_to(positions));
  }

  // ---- stopping -----------------------------------------------------------------------

  void maybe_finish_draining() {
    if (lifecycle_.drained(p_.sources->forming(), p_.executor.batches())) {
      spdlog::info("stopped gracefully after {} batches", p_.clock.next_index());
      finish("");
    }
  }

  void fail(const std::string& what) {
    spdlog::error("job failed: {}", what);
    finish(what);
  }

  // Ends the job: stops every actor the coordinator started, then itself.
  void finish(const std::string& error) {
    if (!lifecycle_.finish()) return;
    p_.inputs.shutdown();
    self_->send_exit(p_.local_host, caf::exit_reason::user_shutdown);
    // Workers stop too, rather than waiting for this coordinator to come back.
    for (auto& w : p_.membership.pool().all()) self_->send(w.host, stop_atom::value);
    self_->send_exit(p_.sink, caf::exit_reason::user_shutdown);
    publish_status();
    p_.status->finished(error, wall_clock_ms());
    cfg_.monitor->terminated(error);
    self_->quit();
  }

  coordinator_actor* self_;
  CoordinatorConfig cfg_;
  std::shared_ptr<const Graph> graph_;
  JobLifecycle lifecycle_;  // the phase and the stop
  bool checks_scheduled_ = false;
  bool input_ended_ = false;      // every receiver reached the end of its input
  int64_t input_end_time_ = -1;   // then: the time of the job's last batch
  CoordinatorParts p_;
};

caf::behavior coordinator_actor_fn(coordinator_actor* self, CoordinatorConfig cfg) {
  auto monitor = cfg.monitor;
  auto c = std::make_shared<Coordinator>(self, std::move(cfg));
  self->set_down_handler([c](caf::down_msg& msg) { c->on_down(msg); });
  // An exception here (a record whose serialization throws at a checkpoint,
  // a bug) ends the job with it, rather than killing this actor silently.
  self->set_exception_handler([c](caf::scheduled_actor*, std::exception_ptr& eptr) -> caf::error {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    c->failed("the coordinator failed: " + what);
    return caf::make_error(caf::sec::runtime_error, what);
  });
  c->start();
  return {
      [c](tick_atom) { c->on_tick(); },
      [c](slot_atom, int64_t t) { c->on_slot(t); },
      [c](TaskResult& res) { c->on_task_result(res); },
      [c](BatchEmitted& done) { c->on_batch_emitted(done); },
      [c, monitor](stop_atom, bool) {
        // Only this process stops its job (see JobMonitor::request_stop);
        // the sender of a message cannot be trusted (CAF lets a peer name any).
        if (auto graceful = monitor->stop_request()) return c->on_stop(*graceful);
        spdlog::warn("ignored a stop message that this process did not ask for");
      },
      [c](join_atom, const caf::actor& host, const std::string& graph) { return c->on_join(host, graph); },
      [c](check_atom) { c->on_check(); },
      [c](status_atom) { c->on_status(); },
  };
}

}  // namespace

caf::actor spawn_coordinator(caf::actor_system& sys, CoordinatorConfig config) {
  // Detached: intervals close on time even when every scheduler thread is
  // busy with long tasks.
  auto monitor = config.monitor;
  auto coordinator = sys.spawn<caf::detached>(coordinator_actor_fn, std::move(config));
  // However it ends, awaitTermination() returns: a job that ended without
  // saying why reports that (a no-op after a normal finish).
  coordinator->attach_functor([monitor, &sys](const caf::error& reason) {
    monitor->terminated("the coordinator ended without finishing the job (" + sys.render(reason) + ")");
  });
  return coordinator;
}

}  // namespace trib
