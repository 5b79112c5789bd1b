#include "actors/receiver_actor.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <utility>

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "dstream/core/backoff.hpp"
#include "io/rate_limiter.hpp"
#include "recovery/write_ahead_log.hpp"

namespace trib {
namespace {

// Partitions a map-ahead slot is handed over in: one, as a slot of 10 ms
// normally is (at most about 130,000 lines of 100 bytes at 1.28 GB/s); one
// per 131,072 lines (rounded to the nearest), up to `partitions`, for a
// bigger one (the first of a job, holding all that was read before it, or
// one after the reader was held up), so every core maps it. Splitting every
// full-speed slot in two raised the word-count benchmark's p99 delay by a
// third: more outputs to reduce.
constexpr std::size_t kLinesPerSlotTask = std::size_t{1} << 17;
int slot_partitions(std::size_t lines, int partitions) {
  return static_cast<int>(std::clamp<std::size_t>((lines + kLinesPerSlotTask / 2) / kLinesPerSlotTask, 1,
                                                   static_cast<std::size_t>(std::max(partitions, 1))));
}

// Partitions the rest at an interval's close (or any slot once the input
// ended) is handed over in. Unlike a slot's in mid-interval, these lines
// are mapped while the batch waits, so they are cut fine enough for every
// core to take a share: one partition per 16,384 lines, up to `partitions`.
// A 200,000-line rest in one partition kept one core mapping for 25 ms
// after a 2 M-line input ended, the other idle.
constexpr std::size_t kLinesPerCloseTask = std::size_t{1} << 14;
int close_partitions(std::size_t lines, int partitions) {
  return static_cast<int>(std::clamp<std::size_t>(lines / kLinesPerCloseTask, 1,
                                                   static_cast<std::size_t>(std::max(partitions, 1))));
}

// What Receiver::run() sees: store() becomes a message to the receiver actor.
class ReaderContext : public ReceiverContext {
 public:
  ReaderContext(caf::blocking_actor* self, receiver_actor owner,
                std::shared_ptr<OneShotSignal> stop, std::shared_ptr<RateLimiter> limiter)
      : self_(self), owner_(std::move(owner)), stop_(std::move(stop)), limiter_(std::move(limiter)) {}

  void store(TextBlock block) override {
    if (limiter_->rate() <= 0) {  // the common case: the block as it is, maybe uncut
      limiter_->reserve(static_cast<int64_t>(block.size()));  // keeps the bucket current
      self_->send(owner_, RecordChunk{std::move(block).partition()});
      return;
    }
    // Over the rate limit, hold this thread back (interruptibly), in slices
    // of about 50 ms of records so a large block trickles in at the rate.
    block.cut();
    auto& lines = block.lines;
    std::size_t begin = 0;
    while (begin < lines.size()) {
      double rate = limiter_->rate();
      std::size_t slice = rate > 0 ? std::max<std::size_t>(1, static_cast<std::size_t>(rate / 20))
                                   : lines.size();
      std::size_t end = std::min(lines.size(), begin + slice);
      auto wait = limiter_->reserve(static_cast<int64_t>(end - begin));
      if (wait.count() > 0)
        stop_->wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(wait));
      Partition part = begin == 0 && end == lines.size()
                           ? Partition::of(std::move(lines))
                           : Partition::of(std::vector<Text>(lines.begin() + begin, lines.begin() + end));
      for (const auto& pin : block.pins) part.pin(pin);
      self_->send(owner_, RecordChunk{std::move(part)});
      begin = end;
    }
  }
  bool stopping() const override { return stop_->is_set(); }
  bool wait_for(std::chrono::milliseconds d) override { return !stop_->wait_for(d); }
  void end_of_input() override { ended_ = true; }
  bool ended() const { return ended_; }

 private:
  caf::blocking_actor* self_;
  receiver_actor owner_;
  std::shared_ptr<OneShotSignal> stop_;
  std::shared_ptr<RateLimiter> limiter_;
  bool ended_ = false;
};

// Runs the receiver until stopped or at the end of its input (ctx.end_of_input),
// restarting it with backoff when it fails; with a gate, not before it opens.
void reader_loop(caf::blocking_actor* self, receiver_actor owner,
                 std::shared_ptr<Receiver> receiver, std::shared_ptr<OneShotSignal> stop,
                 std::shared_ptr<RateLimiter> limiter, std::shared_ptr<ReceiverHealth> health,
                 std::shared_ptr<OneShotSignal> gate) {
  ReaderContext ctx(self, owner, stop, std::move(limiter));
  if (gate)
    while (!gate->wait_for(std::chrono::milliseconds(50)) && !stop->is_set()) {
    }
  Backoff backoff;
  auto failed = [&](std::string why) {
    if (!health) return;
    std::lock_guard<std::mutex> lock(health->mutex);
    health->last_error = std::move(why);
    health->last_error_wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
    ++health->errors;
    health->state = ReceiverHealth::restarting;
  };
  while (!stop->is_set()) {
    if (health) health->state = ReceiverHealth::running;
    try {
      receiver->run(ctx);
      if (stop->is_set()) break;
      if (ctx.ended()) {
        spdlog::info("receiver {} reached the end of its input", receiver->describe());
        break;
      }
      spdlog::warn("receiver {} returned while the job runs; restarting in {} ms",
                   receiver->describe(), backoff.current().count());
      failed("returned while the job runs");
    } catch (const std::exception& e) {
      if (ctx.ended()) {  // what it stored is the whole input: a restart would add to it
        spdlog::error("receiver {} failed after reaching the end of its input: {}; not restarted",
                      receiver->describe(), e.what());
        failed(e.what());
        break;
      }
      spdlog::error("receiver {} failed: {}; restarting in {} ms",
                    receiver->describe(), e.what(), backoff.current().count());
      failed(e.what());
    }
    stop->wait_for(backoff.take());
  }
  if (health) health->state = ReceiverHealth::stopped;
  // Sent after every RecordChunk of this thread: when the owner sees it,
  // everything the receiver stored is in the owner's buffer.
  self->send(owner, done_atom::value, ctx.ended());
}

struct ReceiverState {
  std::unique_ptr<WriteAheadLog> wal;
  LineChunks buffer;  // lines accepted since the last flush (or slot)
  int64_t slotted_records = 0;  // handed over in slots since the last flush
  std::chrono::steady_clock::time_point interval_start = std::chrono::steady_clock::now();  // the last flush
  bool reader_done = false;
  bool input_ended = false;
  std::vector<caf::typed_response_promise<done_atom>> stop_waiters;
  std::vector<caf::typed_response_promise<input_end_atom>> end_waiters;

  // Which of the interval's `n` equal slices it is now (LineChunks' slot).
  std::size_t slot_now(int n, std::chrono::milliseconds interval) const {
    if (n <= 1 || interval.count() <= 0) return 0;
    auto elapsed = std::chrono::steady_clock::now() - interval_start;
    auto slot = elapsed * n / interval;
    return static_cast<std::size_t>(std::clamp<int64_t>(slot, 0, n - 1));
  }
};

receiver_actor::behavior_type receiver_behavior(receiver_actor::stateful_pointer<ReceiverState> self,
                                                int source_node, ReceiverFactory factory, int partitions,
                                                std::shared_ptr<JobMonitor> monitor, ReceiverOptions options) {
  auto stop = std::make_shared<OneShotSignal>();
  auto limiter = std::make_shared<RateLimiter>(options.max_rate);
  if (!options.log_dir.empty()) {
    if (!options.resume) WriteAheadLog::discard(options.log_dir, source_node);
    self->state.wal = std::make_unique<WriteAheadLog>(options.log_dir, source_node,
                                                      options.resume ? options.replay_from : 0);
    WalLossPolicy loss{options.accept_wal_loss};
    TextBlock replay = TextBlock::own(self->state.wal->read_from(options.replay_from, &loss));
    if (!replay.empty()) {
      spdlog::info("stream {}: replaying {} records from the write-ahead log", source_node,
                   replay.lines.size());
      Partition lines = Partition::of(std::move(replay.lines));
      for (auto& pin : replay.pins) lines.pin(std::move(pin));
      self->state.buffer.add(lines);
    }
  }
  std::shared_ptr<Receiver> receiver = factory();
  spdlog::debug("starting receiver {} for stream {}", receiver->describe(), source_node);
  auto health = options.health;
  if (health) {
    std::lock_guard<std::mutex> lock(health->mutex);
    health->name = receiver->describe();
  }
  auto me = caf::actor_cast<receiver_actor>(self);
  self->system().spawn<caf::detached>(reader_loop, me, receiver, stop, limiter, health, options.start_gate);
  // However this actor ends, the reader thread must end too.
  self->attach_functor([stop] { stop->set(); });
  return {
      [=](RecordChunk& chunk) {
        // Logged before buffered: once here, the records survive a crash.
        // A failing log throws, which ends this actor and fails the job.
        if (self->state.wal) self->state.wal->append(chunk.lines.rows<Text>());
        auto records = static_cast<int64_t>(chunk.lines.size());  // counted without cutting
        monitor->received_records += records;
        if (health) health->records += records;
        std::size_t slot = options.slots_on_request ? 0 : self->state.slot_now(partitions, options.batch_interval);
        self->state.buffer.add(chunk.lines, slot);
      },
      [=](slot_atom) {
        auto& st = self->state;
        ReceivedBlock block;
        block.source_node = source_node;
        std::size_t lines = st.buffer.lines();
        block.records = static_cast<int64_t>(lines);
        st.slotted_records += block.records;
        block.partitions = st.buffer.take_chunks(st.input_ended ? close_partitions(lines, partitions)
                                                                : slot_partitions(lines, partitions));
        return block;
      },
      [=](flush_atom) {
        auto& st = self->state;
        ReceivedBlock block;
        block.source_node = source_node;
        // The whole interval's records, those handed over in slots included.
        std::size_t rest = st.buffer.lines();
        int64_t slotted = std::exchange(st.slotted_records, 0);
        block.records = static_cast<int64_t>(rest) + slotted;
        // Every partition pins every block of the batch: blocks are shared
        // between neighbouring partitions, and all die with the batch.
        // After slots, the rest is a slot's worth; without (none asked for
        // in this interval), the whole interval's, cut as any receiver's.
        block.partitions = slotted > 0 ? st.buffer.take_chunks(close_partitions(rest, partitions))
                                   : st.buffer.take(partitions);
        st.interval_start = std::chrono::steady_clock::now();
        if (st.wal) block.position = std::to_string(st.wal->end());
        return block;
      },
      [=](truncate_atom, int64_t position) {
        if (self->state.wal) self->state.wal->truncate_before(position);
      },
      [=](rate_atom, double rate) {
        limiter->set_rate(options.max_rate > 0 ? std::min(rate, options.max_rate) : rate);
      },
      [=](stop_atom) -> caf::result<done_atom> {
        stop->set();
        if (self->state.reader_done) return done_atom::value;
        auto rp = self->make_response_promise<done_atom>();
        self->state.stop_waiters.push_back(rp);
        return rp;
      },
      [=](input_end_atom) -> caf::result<input_end_atom> {
        auto& st = self->state;
        if (st.input_ended) return input_end_atom::value;
        auto rp = self->make_response_promise<input_end_atom>();
        st.end_waiters.push_back(rp);
        return rp;
      },
      [=](done_atom, bool input_ended) {
        auto& st = self->state;
        if (input_ended) {  // everything it read is buffered here now
          st.input_ended = true;
          for (auto& rp : st.end_waiters) rp.deliver(input_end_atom::value);
          st.end_waiters.clear();
        }
        self->state.reader_done = true;
        for (auto& rp : self->state.stop_waiters) rp.deliver(done_atom::value);
        self->state.stop_waiters.clear();
      },
  };
}

}  // namespace

receiver_actor spawn_receiver(caf::actor_system& sys, int source_node,
                          ReceiverFactory factory, int partitions,
                          std::shared_ptr<JobMonitor> monitor, ReceiverOptions options) {
  // Detached: heavy tasks on the scheduler's threads never delay taking in
  // records (nor a write-ahead log's fsync the tasks).
  return sys.spawn<caf::detached>(receiver_behavior, source_node, std::move(factory), partitions,
                                  std::move(monitor), std::move(options));
}

}  // namespace trib
