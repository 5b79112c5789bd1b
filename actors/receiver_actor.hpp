// The receiver actor: one per input stream. It runs the stream's Receiver
// on a thread of its own (a detached actor, so blocking I/O never stalls the
// scheduler), buffers what the receiver stores, and on `flush` hands the
// coordinator everything accepted since the previous flush.
//
// Protocol:
//   flush_atom          -> ReceivedBlock   (cuts the block for a batch)
//   stop_atom           -> done_atom       (after the reader thread ended and
//                                           everything it stored is buffered)
#pragma once

#include <memory>

#include <caf/all.hpp>

#include "actors/job_monitor.hpp"
#include "io/receiver.hpp"

namespace trib {

caf::actor spawn_receiver(caf::actor_system& sys, int source_node,
                          ReceiverFactory factory, int partitions,
                          std::shared_ptr<JobMonitor> monitor);

}  // namespace trib
