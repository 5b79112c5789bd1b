// The receiver actor: one per input stream. It runs the stream's Receiver
// on a thread of its own (a detached actor, so blocking I/O never stalls the
// scheduler), buffers what the receiver stores, and on `flush` hands the
// coordinator everything accepted since the previous flush.
//
// Protocol:
//   flush_atom          -> ReceivedBlock   (cuts the block for a batch)
//   stop_atom           -> done_atom       (after the reader thread ended and
//                                           everything it stored is buffered)
//   (truncate_atom, int64_t position)      (a checkpoint covers the log before it)
//   (rate_atom, double records_per_s)      (backpressure: the new ingest rate,
//                                           capped by ReceiverOptions::max_rate)
//
// With a write-ahead log, every chunk is logged before it is buffered, and
// at start the records from `replay_from` on are buffered again: records
// accepted before a crash go into the first batch after the restart.
#pragma once

#include <memory>

#include <caf/all.hpp>

#include "dstream/core/job_monitor.hpp"
#include "dstream/core/receiver.hpp"

namespace trib {

struct ReceiverOptions {
  std::string log_dir;      // write-ahead log directory; empty: no log
  bool resume = false;      // false: a new job; an old log in log_dir is discarded
  int64_t replay_from = 0;  // first record not in a checkpointed batch
  double max_rate = 0;      // records/s this receiver may store; 0: unlimited
  // Replay past corrupt log entries (getOrCreate reported them) rather than fail.
  bool accept_wal_loss = false;
};

caf::actor spawn_receiver(caf::actor_system& sys, int source_node,
                          ReceiverFactory factory, int partitions,
                          std::shared_ptr<JobMonitor> monitor, ReceiverOptions options = {});

}  // namespace trib
