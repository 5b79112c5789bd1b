// StreamingContext: the entry point of a Tributary job, as in Spark.
//
//   trib::StreamingContext ssc(std::chrono::seconds(1));
//   auto lines = ssc.socketTextStream("localhost", 9999);
//   lines.flatMap(split_words)
//        .map([](const std::string& w) { return std::pair(w, 1); })
//        .reduceByKey(std::plus<int>())
//        .print();
//   ssc.start();
//   ssc.awaitTermination();
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "dstream/batch_queue.hpp"
#include "dstream/cluster_options.hpp"
#include "dstream/core/batch_info.hpp"
#include "dstream/core/job_events.hpp"
#include "dstream/core/job_status.hpp"
#include "dstream/core/receiver.hpp"
#include "dstream/dstream.hpp"

namespace trib {

struct Checkpoint;          // recovery/checkpoint.hpp
struct GeneratorOptions;    // io/generator_receiver.hpp
struct SocketOptions;       // io/socket_receiver.hpp
class JobMonitor;           // dstream/core/job_monitor.hpp
class StatusServer;         // io/status_server.hpp

struct StreamingOptions {
  int partitions = 0;              // per source and shuffle; 0: number of cores
  int worker_threads = 0;          // actor scheduler threads; 0: number of cores
  int max_concurrent_batches = 1;  // batches computed at once (Spark's concurrentJobs)
  // Most records per second each receiver stores (Spark's receiver.maxRate); 0: no limit.
  double max_rate_per_receiver = 0;
  // Lower the receivers' rate when processing falls behind (Spark's
  // backpressure.enabled), so memory and the scheduling delay stay bounded.
  bool backpressure = false;
  // MiB of read buffers (socketTextStream's, 2 MiB each) that may be in use
  // at once in this process: at the bound a receiver waits for batches to
  // finish, so TCP holds a faster sender back and memory stays bounded (as
  // Flink's network buffers do). A batch keeps its buffers until it is done,
  // so the bound must hold about two intervals of input; mapped ahead
  // (map_ahead_slots), a slot's buffers come back once it is mapped. -1:
  // two intervals at 1.28 GB/s (about a 10 Gbit/s link: 2.56 MiB per ms of
  // interval), at least 128; when every receiver's input is mapped ahead,
  // five slots at that rate, at least 64; at most a quarter of the memory
  // this process may use (the machine's, or its cgroup's limit: a
  // container's). 0: no bound.
  int64_t receive_buffer_mb = -1;
  // Map-ahead (Drizzle's pre-scheduling): a receiver whose records only
  // feed shuffles (reduceByKey, updateStateByKey, ...) hands its input over
  // in this many slots per interval, and each slot's map tasks run as it
  // arrives, so a batch is mostly mapped by the time it forms and its read
  // buffers come back within the interval. -1: one slot per 10 ms of the
  // interval, at least `partitions` and at most 8 per partition, and
  // adaptive: a stream's slots stop for good once its map-side combine has
  // kept more than 1 key in 22 of a million records or more, counting map
  // tasks of 262,144 records or more (every slot's keys are merged again on
  // the reduce side, and past that ratio the merging costs more than the
  // slots save; dstream/core/map_ahead.hpp), and the receive buffers grow
  // to the whole-interval default. 0: off (the interval's input is cut into
  // `partitions` when it closes). N > 1: N slots, never stopped. Off with
  // backpressure.
  int map_ahead_slots = -1;
  // > 0: the coordinator accepts worker nodes on this TCP port (CAF's
  // middleman); tasks then run on the workers, and with checkpoints on so
  // do state partitions.
  uint16_t listen_port = 0;
  // The address the coordinator listens on: loopback unless set. Any other
  // address needs TLS (or `insecure`), see dstream/cluster_transport.hpp.
  std::string listen_host = "127.0.0.1";
  // Mutual TLS between coordinator and workers (all three files or none).
  TlsFiles tls;
  // Allow listening on a non-loopback address without TLS (a warning is
  // logged at every start).
  bool insecure = false;
  // Coordinator: how many peer connections, how long to authenticate, how
  // big a frame (see dstream/peer_gate.hpp and README "Securing a cluster").
  PeerLimits peer_limits;
  // A worker that answers no heartbeat, or sits on a state partition's task,
  // this long is given up on: its work moves to the others. 0: scaled to the
  // job, max(1 s, 10 batch intervals), so a hung worker stalls short batches
  // briefly while a loaded machine's pauses are not taken for hangs.
  int64_t worker_timeout_ms = 0;
  // Run a copy of a stateless task that is slow (4x the median, at least
  // 500 ms) on another node; the first result counts (Spark's speculation).
  bool speculation = true;
  // With workers, the coordinator still runs up to this many map tasks at
  // once itself: their input (what its receivers hold) is there, so only
  // their combined buckets cross the network, as Flink chains a source with
  // its map side. Reduce tasks and further map tasks go to the workers.
  // -1: one per actor scheduler thread; 0: every task to the workers.
  int coordinator_map_slots = -1;
  // Wait for this many workers to join (at most min_workers_wait_ms) before
  // the first batch, so the job's first partitions spread over them.
  int min_workers = 0;
  int64_t min_workers_wait_ms = 30000;
  std::ostream* print_out = nullptr;  // where print() writes; nullptr: stdout
  // completedBatches() keeps this many of the most recent batches (Spark's
  // ui.retainedBatches), so a long-running job's history stays bounded.
  std::size_t retained_batches = 1000;
  // getOrCreate() on a directory that holds checkpoints, none of them
  // readable: false refuses to start (restoring nothing would silently drop
  // the state and the write-ahead log they cover); true starts a new job.
  bool start_fresh = false;
  // getOrCreate() restoring a checkpoint whose receivers' write-ahead logs
  // hold corrupt entries after it: false refuses to start, naming each file
  // and byte offset; true goes on without those records, reporting how many.
  bool accept_wal_loss = false;
  // SIGINT/SIGTERM stop the job gracefully (a second one ends the process
  // at once), as the bundled apps do; false leaves the signals to you.
  bool stop_on_signal = true;
  // The web UI, /metrics and the JSON status API (io/status_server.hpp),
  // served by the job itself: -1 off (the default: a library does not open
  // ports unasked, and the page has no login); 0 any free port (uiPort()
  // tells which); else that port, on ui_host (loopback unless set).
  int ui_port = -1;
  std::string ui_host = "127.0.0.1";
  // Log a progress line (rate, last batch's times, falling behind) every
  // this many seconds at info level; 0: never.
  int64_t progress_seconds = 10;
};

// runWorker(): the coordinator gave up on this worker (it was silent too
// long). CAF 0.17 names a node by machine and process id, so only a new
// process can join again (apps/worker_respawn.hpp does that).
class WorkerEvicted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StreamingContext {
 public:
  explicit StreamingContext(std::chrono::milliseconds batch_interval,
                            StreamingOptions options = {});
  ~StreamingContext();  // stops the job (not gracefully) if it still runs

  StreamingContext(const StreamingContext&) = delete;
  StreamingContext& operator=(const StreamingContext&) = delete;

  // ---- sources ------------------------------------------------------------
  // Lines of text from a TCP server (one record per line).
  DStream<Text> socketTextStream(const std::string& host, uint16_t port);
  // With an idle timeout (include io/socket_receiver.hpp).
  DStream<Text> socketTextStream(const std::string& host, uint16_t port, const SocketOptions& options);
  // Generated lines of words at a set rate; no server needed.
  DStream<Text> generatorStream();
  DStream<Text> generatorStream(const GeneratorOptions& options);  // include io/generator_receiver.hpp
  // Lines of the files moved into `dir`, each file once (io/directory_source.hpp).
  // Files modified more than `remember` before the newest file read are
  // ignored and forgotten, so what the source remembers stays bounded.
  DStream<Text> textFileStream(const std::string& dir,
                               std::chrono::milliseconds remember = std::chrono::minutes(10));
  // Redis Streams: trib::redisStream(ssc, host, port, key) in io/redis.hpp.
  // Records from any receiver (see dstream/core/receiver.hpp).
  DStream<Text> receiverStream(ReceiverFactory factory, std::string name = "receiverStream");
  // Each batch takes the next queued batch (or all queued batches).
  template <class T>
  DStream<T> queueStream(std::shared_ptr<BatchQueue<T>> queue, bool one_at_a_time = true) {
    int n = partitions();
    auto node = std::make_shared<PolledSourceNode>(
        "queueStream", [queue, one_at_a_time, n](int64_t) {
          return split_into_partitions(queue->take(one_at_a_time), n);
        });
    return add_source<T>(node);
  }

  // A source of your own, polled on the coordinator as each interval closes: a
  // trib::SourceNode (dstream/core/graph.hpp) giving records of type T,
  // replayable when it reports positions. Example: io/sensor_readings.hpp.
  template <class T>
  DStream<T> sourceStream(std::shared_ptr<SourceNode> node) {
    return add_source<T>(std::move(node));
  }

  // ---- checkpoints (recovery/checkpoint.hpp) --------------------------------
  // Checkpoints the job into `dir` every `interval` (a multiple of the batch
  // interval; 0: every batch): operator state, window contents and source
  // positions, so a restarted job resumes after the last checkpointed batch.
  void checkpoint(const std::string& dir,
                  std::chrono::milliseconds interval = std::chrono::milliseconds(0));

  // Resumes from the newest intact checkpoint in `dir`, or starts afresh
  // when `dir` holds no checkpoint. If it holds checkpoints but none can be
  // restored, throws std::runtime_error naming each file and why, unless the
  // factory's context has StreamingOptions::start_fresh. Unlike Spark, the factory always runs, since C++ functions cannot be
  // stored in a checkpoint: it must declare the same pipeline, or the
  // checkpoint is refused with an error.
  static std::unique_ptr<StreamingContext> getOrCreate(
      const std::string& dir, const std::function<std::unique_ptr<StreamingContext>()>& factory);

  // True when getOrCreate() restored a checkpoint.
  bool recovered() const { return recovered_ != nullptr; }

  // ---- lifecycle ------------------------------------------------------------
  void start();
  // Blocks until the job stops; rethrows the error that stopped it, if any.
  void awaitTermination();
  // Like awaitTermination, for at most `timeout`; true if the job stopped.
  bool awaitTerminationOrTimeout(std::chrono::milliseconds timeout);
  // Stops the job. graceful: first process every record already received.
  void stop(bool graceful = false);
  // Ends the job once batches 0..n-1 are complete, counting batches from
  // the job's first (across restarts from checkpoints): no later interval
  // is closed, so exactly n batches are ever published. Call before start().
  void stopAfterBatches(int64_t n) { stop_after_batches_ = n; }

  // Runs this process as a worker node of the coordinator at host:port
  // instead of running the job: declare the same pipeline first (the
  // coordinator refuses a worker whose graph differs). Retries connecting
  // until connect_timeout; returns when the coordinator is gone; throws if
  // it refused or gave up on this worker (e.g. it hung longer than the
  // worker timeout; then WorkerEvicted): a new process rejoins as a new worker.
  void runWorker(const std::string& host, uint16_t port,
                 std::chrono::milliseconds connect_timeout = std::chrono::seconds(30));

  // ---- monitoring -----------------------------------------------------------
  // Called (on an actor thread) after each batch's outputs were emitted.
  void addBatchListener(std::function<void(const BatchInfo&)> listener);
  // Called (on the coordinator's thread) for each job event: workers joined
  // and lost, state partitions placed and moved, checkpoints, recovery
  // (dstream/core/job_events.hpp). Add before start() to see them all.
  void addEventListener(std::function<void(const JobEvent&)> listener);
  // Waits until n batches completed; false on timeout or if the job ended first.
  bool awaitBatches(std::size_t n, std::chrono::milliseconds timeout);
  // The most recent StreamingOptions::retained_batches batches, oldest first.
  std::vector<BatchInfo> completedBatches() const;
  // Every batch completed since start(), including those no longer retained.
  std::size_t completedBatchCount() const;
  int64_t receivedRecords() const;  // records accepted by all receivers so far
  // Partitions whose map tasks started before their batch formed
  // (StreamingOptions::map_ahead_slots); 0 while map-ahead is off.
  int64_t slotsMappedAhead() const;

  // Serves the web UI, /metrics and /api/v1/* on host:port while the job runs
  // (the same as StreamingOptions::ui_port; 0: any free port). Before start().
  void enableUi(uint16_t port = 4040, const std::string& host = "127.0.0.1");
  // The port the web UI is served on; 0 when it is off.
  uint16_t uiPort() const;
  // The job's status as the web UI shows it (dstream/core/job_status.hpp).
  JobStatus status() const;

  std::chrono::milliseconds batchInterval() const;
  int partitions() const;

 private:
  template <class T>
  DStream<T> add_source(std::shared_ptr<SourceNode> node) {
    auto n = job_->add(node);
    job_->graph.sources.push_back(n->id);
    return detail::of_node<T>(job_, n);
  }

  void release_coordinator();

  std::shared_ptr<JobBuilder> job_;
  std::shared_ptr<JobMonitor> monitor_;
  std::shared_ptr<StatusBoard> status_;
  std::unique_ptr<StatusServer> ui_;
  struct Runtime;
  std::unique_ptr<Runtime> runtime_;
  StreamingOptions options_;
  std::string checkpoint_dir_;
  int checkpoint_every_ = 1;
  std::unique_ptr<Checkpoint> recovered_;
  int64_t stop_after_batches_ = 0;
  std::shared_ptr<void> signal_guard_;  // while set, SIGINT/SIGTERM stop this job
};

}  // namespace trib
