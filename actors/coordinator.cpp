#include "actors/coordinator.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <set>

#include <spdlog/spdlog.h>

#include "actors/batch_clock.hpp"
#include "actors/batch_executor.hpp"
#include "actors/checkpoint_coordinator.hpp"
#include "actors/messages.hpp"
#include "actors/partition_host.hpp"
#include "actors/receiver_actor.hpp"
#include "actors/sink_actor.hpp"
#include "actors/source_poller.hpp"
#include "actors/source_tracker.hpp"
#include "actors/state_placement.hpp"
#include "actors/status_reporter.hpp"
#include "actors/task_dispatcher.hpp"
#include "actors/worker_membership.hpp"
#include "recovery/fault_injection.hpp"

namespace trib {
namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The coordinator's phase. Batches start only while running; a checkpoint
// pauses them. A graceful stop (draining_) is apart from it: it may begin
// during a checkpoint and lets every received record through.
enum class JobPhase { running, checkpointing, finished };

struct CoordinatorState {
  CoordinatorConfig cfg;
};

using coordinator_actor = caf::stateful_actor<CoordinatorState>;

// The actor shell: routes messages to the parts (actors/batch_clock.hpp,
// source_tracker.hpp, batch_executor.hpp, task_dispatcher.hpp,
// state_placement.hpp, worker_membership.hpp, checkpoint_coordinator.hpp)
// and wires their events to each other. All of it runs on the coordinator's
// one thread, so the invariants between the parts stay synchronous.
class Coordinator final : public ExecutorListener, public TaskOutbox {
 public:
  Coordinator(coordinator_actor* self, CoordinatorConfig cfg)
      : self_(self),
        cfg_(std::move(cfg)),
        graph_(cfg_.graph),
        clock_(graph_->batch_interval_ms),
        executor_(graph_, cfg_.max_concurrent_batches, *this),
        membership_(fingerprint(*graph_), MembershipPolicy{cfg_.worker_timeout_ms, cfg_.min_workers,
                                                           min_workers_wait(cfg_)}) {}

  // A restarted job already spread its partitions once: it waits for its
  // workers only as long as a live one takes to rejoin (its retries are at
  // most 2 s apart: 5 s is ample) or the worker timeout, not the whole
  // first-start wait.
  static int64_t min_workers_wait(const CoordinatorConfig& cfg) {
    if (!cfg.recovered) return cfg.min_workers_wait_ms;
    return std::min(cfg.min_workers_wait_ms, std::max<int64_t>(5000, cfg.worker_timeout_ms));
  }

  void start() {
    auto& g = *graph_;
    caf::actor me = caf::actor_cast<caf::actor>(self_);
    sink_ = spawn_sink(self_->system(), graph_, me);
    local_host_ = spawn_partition_host(self_->system(), graph_, me);
    self_->monitor(sink_);
    self_->monitor(local_host_);
    if (!cfg_.status) cfg_.status = std::make_shared<StatusBoard>();
    status_.emplace(cfg_.status, g, cfg_.checkpoint_dir, cfg_.progress_ms, wall_ms(), steady::now());
    auto events = [monitor = cfg_.monitor](JobEvent e) { monitor->event(std::move(e)); };
    dispatcher_.emplace(g, membership_.pool(), local_host_, *this,
                        SpeculationPolicy{cfg_.speculation, cfg_.speculation_min_ms}, events);
    placement_.emplace(g, membership_.pool(), local_host_, *this, cfg_.checkpoint_dir, events);
    std::vector<int> sources;
    std::set<int> with_receiver, polled_elsewhere;
    for (auto id : g.sources) {
      if (!executor_.needed(id)) continue;
      sources.push_back(id);
      auto& source = static_cast<const SourceNode&>(*g.nodes[id]);
      if (source.blocking()) {  // a slow read must not stall this actor
        polled_elsewhere.insert(id);
        pollers_[id] = spawn_source_poller(self_->system(), graph_, id);
        self_->monitor(pollers_[id]);
      }
      auto* factory = source.receiver();
      if (!factory) continue;
      with_receiver.insert(id);
      spawn_receiver_for(id, *factory);
    }
    sources_.emplace(g, sources, with_receiver, polled_elsewhere, cfg_.backpressure);
    if (!cfg_.checkpoint_dir.empty()) checkpoints_.emplace(cfg_.checkpoint_dir);
    if (checkpoints_) sources_->log_batches(cfg_.checkpoint_dir, cfg_.recovered ? &*cfg_.recovered : nullptr);
    clock_.start(wall_ms());
    membership_.start(steady::now());
    if (cfg_.min_workers > 0) {
      checks_scheduled_ = true;
      schedule_check();
    }
    if (cfg_.recovered)
      restore(*cfg_.recovered);
    else if (checkpoints_)
      // Fixes the job's time origin and source positions before the first
      // batch, so a crash at any moment resumes this job, never a new one.
      take_checkpoint(-1, clock_.zero_time(), sources_->positions());
    spdlog::info("job started: {} nodes, {} outputs, {} receivers, batch interval {} ms", g.nodes.size(),
                 g.outputs.size(), receivers_.size(), g.batch_interval_ms);
    schedule_tick();
    self_->delayed_send(self_, std::chrono::seconds(1), status_atom::value);
  }

  // ---- messages ----------------------------------------------------------------

  void on_tick() {
    if (draining_ || phase_ == JobPhase::finished) return;
    if (cfg_.stop_after_batches > 0 && clock_.next_index() >= cfg_.stop_after_batches) {
      // The last batch is closed: finish what is formed and end, with no
      // final interval for the receivers (what they hold stays in their logs).
      spdlog::info("batch {} was the last (stop after {} batches)", cfg_.stop_after_batches - 1,
                   cfg_.stop_after_batches);
      draining_ = true;
      final_interval_closed_ = true;
      maybe_finish_draining();
      return;
    }
    close_interval();
    schedule_tick();
  }

  void on_task_result(TaskResult& res) {
    auto now = steady::now();
    if (auto& sender = self_->current_sender()) status_->task_answered(sender->node());
    // Kept map outputs live on the worker that sent the result.
    caf::actor keeper;
    if (res.kept && res.error.empty()) {
      Worker* w = membership_.pool().find(caf::actor_cast<caf::actor_addr>(self_->current_sender()));
      if (!w) return;  // a lost worker's: its task runs again
      keeper = w->host;
    }
    dispatcher_->finished(res, now);
    if (res.id.node < 0 || res.id.node >= static_cast<int32_t>(graph_->nodes.size())) return;
    bool reduce = res.id.phase == Phase::reduce;
    if (reduce && graph_->nodes[res.id.node]->holds_partition_state() && !placement_->accept(res))
      return;  // from a placement given up on
    executor_.task_finished(res, keeper, now);
  }

  void on_batch_emitted(const BatchEmitted& done) {
    if (!done.error.empty()) {
      fail("batch " + std::to_string(done.batch_time) + ": " + done.error);
      return;
    }
    executor_.batch_emitted(done.batch_time, steady::now());
  }

  caf::result<joined_atom> on_join(const caf::actor& host, const std::string& worker_graph) {
    auto joined = membership_.admit(host, worker_graph, steady::now());
    if (!joined.worker) {
      JobEvent e;
      e.kind = JobEvent::Kind::worker_refused;
      e.reason = joined.refusal;
      cfg_.monitor->event(std::move(e));
      return caf::make_error(caf::sec::runtime_error, joined.refusal);
    }
    self_->monitor(host);
    spdlog::info("{} ({}) joined; {} workers", joined.worker->label, to_string(host.node()),
                 membership_.pool().size());
    JobEvent e;
    e.kind = JobEvent::Kind::worker_joined;
    e.worker = joined.worker->label;
    e.workers = static_cast<int64_t>(membership_.pool().size());
    cfg_.monitor->event(std::move(e));
    if (!std::exchange(checks_scheduled_, true)) schedule_check();
    start_ready_batches();
    return joined_atom::value;
  }

  // Every 200 ms while workers exist or are awaited: heartbeats (a hung
  // worker answers none), state tasks out longer than the worker timeout
  // (their worker is given up on), and speculative copies of slow tasks.
  void on_check() {
    if (phase_ == JobPhase::finished) return;
    auto now = steady::now();
    if (membership_.waiting()) start_ready_batches();
    auto check = membership_.check(now);
    for (auto& host : check.ping)
      self_->request(host, membership_.timeout(), ping_atom::value)
          .then([this, addr = host.address()](ping_atom) { membership_.pong(addr, steady::now()); },
                [this, addr = host.address()](caf::error&) { membership_.ping_failed(addr); });
    auto late = placement_->overdue(now, membership_.timeout());
    check.lost.insert(check.lost.end(), late.begin(), late.end());
    for (auto& [addr, why] : check.lost) {
      Worker* w = membership_.pool().find(addr);
      if (!w) continue;  // given up on for two reasons at once
      caf::actor handle = w->host;
      self_->demonitor(handle);
      lose_worker(addr, why);
      // Should it wake up, it learns why its work went elsewhere.
      self_->send(handle, evicted_atom::value, why);
    }
    dispatcher_->speculate(now);
    schedule_check();
  }

  // Every second: the status page's figures, and the progress line when due.
  void on_status() {
    if (phase_ == JobPhase::finished) return;
    publish_status();
    self_->delayed_send(self_, std::chrono::seconds(1), status_atom::value);
  }

  void on_stop(bool graceful) {
    if (!graceful) {
      spdlog::info("stopping now; {} batches in flight are abandoned", executor_.batches());
      finish("");
      return;
    }
    if (draining_ || phase_ == JobPhase::finished) return;
    draining_ = true;
    spdlog::info("stopping gracefully: stopping receivers, then processing all received data");
    if (receivers_.empty()) {
      final_interval_closed_ = true;
      maybe_finish_draining();
      return;
    }
    auto pending = std::make_shared<std::size_t>(receivers_.size());
    for (auto& [id, r] : receivers_)
      self_->request(r, caf::infinite, stop_atom::value)
          .then(
              [this, pending](done_atom) {
                if (--*pending > 0) return;
                // Every record the receivers accepted is buffered in them:
                // one last interval takes it all.
                close_interval();
                final_interval_closed_ = true;
                maybe_finish_draining();
              },
              [this, id = id](caf::error& err) {
                fail("receiver of stream " + std::to_string(id) + " failed to stop: " +
                     self_->system().render(err));
              });
  }

  void on_down(const caf::down_msg& msg) {
    if (lose_worker(msg.source, self_->system().render(msg.reason))) return;
    for (auto& [id, r] : receivers_)
      if (r.address() == msg.source) {
        fail("receiver of stream " + std::to_string(id) + " died: " + self_->system().render(msg.reason));
        return;
      }
    for (auto& [id, p] : pollers_)
      if (p.address() == msg.source) {
        fail("the poller of stream " + std::to_string(id) + " died: " + self_->system().render(msg.reason));
        return;
      }
    // Without these the job cannot go on: end it with the reason rather
    // than leave awaitTermination() and stop() waiting for ever.
    if (msg.source == sink_.address())
      fail("the output sink died: " + self_->system().render(msg.reason));
    else if (msg.source == local_host_.address())
      fail("this process's partition host died: " + self_->system().render(msg.reason));
  }

  // ---- ExecutorListener ----------------------------------------------------------

  void task_ready(TaskSpec spec, bool state) override {
    if (state)
      placement_->run(std::move(spec), steady::now());
    else
      dispatcher_->run(std::move(spec), steady::now());
  }

  void output_ready(int64_t time, int32_t node, Dataset data) override {
    self_->send(sink_, OutputReady{time, node, std::move(data)});
  }

  void batch_completed(const CompletedBatch& done) override {
    const BatchInfo& info = done.info;
    spdlog::debug("batch {}: {} records, processing {:.1f} ms, total delay {:.1f} ms{}", info.batch_time_ms,
                  info.input_records, info.processing_time_ms, info.total_delay_ms,
                  info.watermark_ms ? fmt::format(", watermark {}, {} late records", *info.watermark_ms,
                                                  info.late_records)
                                    : std::string());
    for (auto& w : membership_.pool().all())
      self_->send(w.host, release_atom::value, info.batch_time_ms);  // its shuffle blocks
    cfg_.monitor->processed_records += info.input_records;
    if (auto rate = sources_->receiver_rate(info)) {
      cfg_.monitor->ingest_rate = *rate * static_cast<double>(receivers_.size());
      spdlog::debug("backpressure: ingest rate {:.0f} records/s per receiver", *rate);
      for (auto& [id, r] : receivers_) self_->send(r, rate_atom::value, *rate);
    }
    status_->board().batch_completed(info, cfg_.monitor->received_records.load());
    cfg_.monitor->batch_completed(info);
    if (checkpoints_ && (info.batch_index + 1) % cfg_.checkpoint_every == 0)
      take_checkpoint(info.batch_index, info.batch_time_ms, done.source_positions);
    else if (!checkpoints_)  // nothing will replay this batch: it is done
      release_input(done.source_positions);
    start_ready_batches();
    maybe_finish_draining();
  }

  void failed(const std::string& why) override { fail(why); }

  void event(JobEvent e) override { cfg_.monitor->event(std::move(e)); }

  // ---- TaskOutbox --------------------------------------------------------------------

  void send_task(const caf::actor& host, TaskSpec spec) override {
    status_->task_sent(host.node());
    self_->send(host, std::move(spec));
  }

  void send_restore(const caf::actor& host, const PartitionKey& key, std::string bytes) override {
    self_->send(host, restore_atom::value, key.first, key.second, std::move(bytes));
  }

  void send_drop(const caf::actor& host, const PartitionKey& key) override {
    self_->send(host, drop_atom::value, key.first, key.second);
  }

 private:
  void spawn_receiver_for(int id, const ReceiverFactory& factory) {
    // With checkpoints, receivers log what they accept (write-ahead log) and
    // replay what no checkpointed batch covers.
    ReceiverOptions opts;
    opts.max_rate = cfg_.max_rate_per_receiver;
    if (!cfg_.checkpoint_dir.empty()) {
      opts.log_dir = cfg_.checkpoint_dir;
      opts.resume = cfg_.recovered.has_value();
      if (opts.resume) opts.replay_from = replay_position(*cfg_.recovered, id);
      opts.accept_wal_loss = cfg_.accept_wal_loss;
    }
    opts.health = std::make_shared<ReceiverHealth>();
    status_->receiver_started(id, opts.health);
    auto r = spawn_receiver(self_->system(), id, factory, cfg_.receiver_partitions, cfg_.monitor, opts);
    self_->monitor(r);
    receivers_[id] = r;
  }

  void schedule_tick() {
    int64_t delay = clock_.delay_to_next_close(wall_ms());
    self_->delayed_send(self_, std::chrono::milliseconds(delay), tick_atom::value);
  }

  void schedule_check() {
    self_->delayed_send(self_, std::chrono::milliseconds(200), check_atom::value);
  }

  // Closes the next interval: receiver-less sources are polled now,
  // receivers asked for what they accepted; the batch forms when all answered.
  void close_interval() {
    crash_point("interval-close");
    auto [t, k] = clock_.close_next();
    for (int id : sources_->interval_closed(t, k, steady::now())) {
      auto on_block = [this, t = t](ReceivedBlock& block) {
        status_->block_delivered(block.source_node, block.records, graph_->batch_interval_ms);
        sources_->delivered(t, std::move(block));
        form(t);
      };
      auto on_error = [this, t = t, id](caf::error& err) {
        fail("source of stream " + std::to_string(id) + " did not deliver batch " + std::to_string(t) +
             ": " + self_->system().render(err));
      };
      if (auto r = receivers_.find(id); r != receivers_.end())
        self_->request(r->second, caf::infinite, flush_atom::value).then(on_block, on_error);
      else
        self_->request(pollers_.at(id), caf::infinite, poll_atom::value, t, sources_->replay_end(t, id))
            .then(on_block, on_error);
    }
    form(t);
  }

  // Batches form in time order: receivers answer flushes in order.
  void form(int64_t t) {
    auto batch = sources_->take_formed(t);
    if (!batch) return;
    auto outputs = executor_.add(std::move(*batch));
    self_->send(sink_, ExpectBatch{t, std::move(outputs)});
    start_ready_batches();
  }

  void start_ready_batches() {
    if (phase_ == JobPhase::checkpointing || phase_ == JobPhase::finished) return;
    bool was_waiting = membership_.waiting();
    if (!membership_.gate_open(steady::now())) return;
    if (was_waiting) {
      JobEvent e;
      e.kind = JobEvent::Kind::workers_ready;
      e.workers = static_cast<int64_t>(membership_.pool().size());
      cfg_.monitor->event(std::move(e));
    }
    executor_.start_ready(steady::now());
  }

  // A worker died, was cut off or stopped answering: its unfinished tasks
  // run again, the shuffle blocks it kept are made again, and its state
  // partitions are rebuilt elsewhere.
  bool lose_worker(const caf::actor_addr& host, const std::string& why) {
    std::string label;
    if (!membership_.remove(host, &label)) return false;
    auto now = steady::now();
    JobEvent lost;
    lost.kind = JobEvent::Kind::worker_lost;
    lost.worker = label;
    lost.reason = why;
    lost.tasks = static_cast<int64_t>(dispatcher_->on(host));
    lost.partitions = static_cast<int64_t>(placement_->on(host));
    lost.workers = static_cast<int64_t>(membership_.pool().size());
    status_->worker_lost(label, host.node(), why);
    spdlog::warn("lost {} ({}); running its {} unfinished tasks again and restoring its {} state "
                 "partitions from the last checkpoint; {} workers left",
                 label, why, lost.tasks, lost.partitions, lost.workers);
    cfg_.monitor->event(std::move(lost));
    dispatcher_->lose_worker(host, now);
    executor_.lose_kept_outputs(host);
    try {
      placement_->lose_worker(host, now);
    } catch (const std::exception& e) {
      fail("cannot restore the state partitions of " + label + ": " + e.what());
      return true;
    }
    // Snapshots being collected may miss the lost worker's: start over.
    if (checkpoints_ && checkpoints_->in_progress()) {
      snapshots_.clear();
      request_snapshots(checkpoints_->retake(snapshot_hosts()));
    }
    return true;
  }

  void publish_status() {
    if (!sources_ || !dispatcher_ || !placement_) return;  // start() did not get that far
    StatusReporter::Parts parts;
    parts.state = phase_ == JobPhase::checkpointing ? "checkpointing" : draining_ ? "stopping" : "running";
    parts.batches_in_flight = static_cast<int64_t>(executor_.batches() + sources_->forming());
    parts.received_records = cfg_.monitor->received_records.load();
    parts.local_host = local_host_;
    parts.workers = &membership_.pool();
    parts.dispatcher = &*dispatcher_;
    parts.placement = &*placement_;
    status_->publish(parts, wall_ms(), steady::now());
  }

  // ---- checkpoints ----------------------------------------------------------------

  std::vector<std::pair<caf::actor, std::string>> snapshot_hosts() {
    std::vector<std::pair<caf::actor, std::string>> hosts{{local_host_, "coordinator"}};
    for (auto& w : membership_.pool().all()) hosts.emplace_back(w.host, w.label);
    return hosts;
  }

  // Batch `index` just completed and no other batch runs (checkpointing
  // needs max_concurrent_batches == 1): every partition's state is the state
  // after it. Each host writes the partitions it holds to its own state
  // file; the checkpoint names them. Batches wait until it is written.
  void take_checkpoint(int64_t index, int64_t time, std::map<int32_t, std::string> positions) {
    phase_ = JobPhase::checkpointing;
    status_->checkpoint_started(steady::now());
    snapshots_.clear();
    placement_->place_unplaced();  // restored at start-up, not used since
    Checkpoint cp;
    cp.graph_fingerprint = fingerprint(*graph_);
    cp.batch_interval_ms = graph_->batch_interval_ms;
    cp.zero_time_ms = clock_.zero_time();
    cp.next_batch_index = index + 1;
    cp.last_batch_time_ms = time;
    cp.source_positions = std::move(positions);
    for (auto& n : graph_->nodes)
      if (executor_.needed(n->id))
        if (auto bytes = n->save_state(); !bytes.empty()) cp.node_states[n->id] = bytes;
    request_snapshots(checkpoints_->begin(std::move(cp), snapshot_hosts()));
  }

  void request_snapshots(const std::vector<CheckpointCoordinator::SnapshotRequest>& requests) {
    for (auto& req : requests)
      self_->request(req.host, caf::infinite, snapshot_atom::value, req.path)
          .then(
              [this, round = req.round, path = req.path](HostSnapshot& snap) {
                for (auto id : snap.stateless_nodes)
                  if (stateless_operators_.insert(id).second)
                    spdlog::warn("operator {} answers no snapshot_atom; its state is not checkpointed",
                                 graph_->nodes[id]->name);
                if (checkpoints_->current(round)) snapshots_.push_back(snap);
                if (checkpoints_->snapshot_written(round, path, snap)) write_checkpoint();
              },
              [this, round = req.round, label = req.label](caf::error& err) {
                // A worker lost meanwhile makes lose_worker() start a new round.
                if (!checkpoints_->current(round) || err == caf::sec::request_receiver_down) return;
                fail("cannot write checkpoint: " + label + " could not write its state snapshot: " +
                     self_->system().render(err));
              });
  }

  void write_checkpoint() {
    Checkpoint cp;
    try {
      cp = checkpoints_->write();
    } catch (const std::exception& e) {
      fail(std::string("cannot write checkpoint: ") + e.what());
      return;
    }
    spdlog::debug("checkpoint written after batch {}", cp.last_batch_time_ms);
    status_->checkpoint_written(cp.last_batch_time_ms, checkpoints_->bytes_on_disk(cp), snapshots_, wall_ms(),
                                steady::now());
    snapshots_.clear();
    JobEvent written;
    written.kind = JobEvent::Kind::checkpoint_written;
    written.batch_time = cp.last_batch_time_ms;
    cfg_.monitor->event(std::move(written));
    try {
      placement_->checkpoint_written(cp.state_files);
    } catch (const std::exception& e) {
      fail(std::string("cannot move state partitions: ") + e.what());
      return;
    }
    // Input before the oldest kept checkpoint is needed by none: a restart
    // may fall back from this one to any older one still kept.
    release_input(checkpoints_->replay_needed_from());
    sources_->batches_done_through(checkpoints_->replay_needed_after());
    phase_ = JobPhase::running;
    start_ready_batches();
    maybe_finish_draining();
  }

  // Input up to `positions` is durably done: tell the sources.
  void release_input(const std::map<int32_t, std::string>& positions) {
    auto release = sources_->done_up_to(positions);
    for (auto& [id, pos] : release.truncate) self_->send(receivers_.at(id), truncate_atom::value, pos);
    for (auto& [id, pos] : release.commit) self_->send(pollers_.at(id), commit_atom::value, pos);
  }

  // Puts the job back where checkpoint `cp` left it, before the first batch.
  void restore(const Checkpoint& cp) {
    clock_.restore(cp.zero_time_ms, cp.next_batch_index);
    sources_->seek(cp.source_positions);
    for (auto& [id, bytes] : cp.node_states) graph_->nodes.at(id)->restore_state(bytes);
    // State partitions are placed (and restored there) when first used.
    placement_->recover(cp);
    spdlog::info("recovered from checkpoint of batch {}: resuming with batch {}, {} state "
                 "partitions to restore",
                 cp.last_batch_time_ms, cp.last_batch_time_ms + graph_->batch_interval_ms,
                 cp.partition_states.size());
    JobEvent e;
    e.kind = JobEvent::Kind::recovered;
    e.batch_time = cp.last_batch_time_ms;
    e.partitions = static_cast<int64_t>(cp.partition_states.size());
    cfg_.monitor->event(std::move(e));
  }

  // ---- stopping -----------------------------------------------------------------------

  void maybe_finish_draining() {
    if (draining_ && phase_ == JobPhase::running && final_interval_closed_ && sources_->forming() == 0 &&
        executor_.batches() == 0) {
      spdlog::info("stopped gracefully after {} batches", clock_.next_index());
      finish("");
    }
  }

  void fail(const std::string& what) {
    spdlog::error("job failed: {}", what);
    finish(what);
  }

  // Ends the job: stops every actor the coordinator started, then itself.
  void finish(const std::string& error) {
    if (std::exchange(phase_, JobPhase::finished) == JobPhase::finished) return;
    for (auto& [id, r] : receivers_) self_->send_exit(r, caf::exit_reason::user_shutdown);
    for (auto& [id, p] : pollers_) self_->send_exit(p, caf::exit_reason::user_shutdown);
    if (local_host_) self_->send_exit(local_host_, caf::exit_reason::user_shutdown);
    // Workers stop too, rather than waiting for this coordinator to come back.
    for (auto& w : membership_.pool().all()) self_->send(w.host, stop_atom::value);
    if (sink_) self_->send_exit(sink_, caf::exit_reason::user_shutdown);
    receivers_.clear();
    pollers_.clear();
    if (status_) {
      publish_status();
      status_->finished(error, wall_ms());
    }
    cfg_.monitor->terminated(error);
    self_->quit();
  }

  coordinator_actor* self_;
  CoordinatorConfig cfg_;
  std::shared_ptr<const Graph> graph_;
  JobPhase phase_ = JobPhase::running;
  bool draining_ = false;  // a graceful stop began (it outlasts a checkpoint)
  bool final_interval_closed_ = false;
  bool checks_scheduled_ = false;
  caf::actor sink_;
  caf::actor local_host_;
  std::map<int, caf::actor> receivers_;  // by source node id
  std::map<int, caf::actor> pollers_;    // by source node id: sources whose poll may block
  std::set<int> stateless_operators_;    // actor operators that answer no snapshot
  BatchClock clock_;
  BatchExecutor executor_;
  WorkerMembership membership_;
  std::optional<TaskDispatcher> dispatcher_;
  std::optional<StatePlacement> placement_;
  std::optional<SourceTracker> sources_;
  std::optional<CheckpointCoordinator> checkpoints_;
  std::vector<HostSnapshot> snapshots_;  // of the checkpoint being taken, for its status
  std::optional<StatusReporter> status_;
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
