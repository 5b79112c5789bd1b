#include "actors/messages.hpp"

namespace trib {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<Partition>("trib.partition");
  cfg.add_message_type<RecordChunk>("trib.record_chunk");
  cfg.add_message_type<ReceivedBlock>("trib.received_block");
  cfg.add_message_type<TaskSpec>("trib.task_spec");
  cfg.add_message_type<TaskResult>("trib.task_result");
  cfg.add_message_type<ExpectBatch>("trib.expect_batch");
  cfg.add_message_type<OutputReady>("trib.output_ready");
  cfg.add_message_type<BatchEmitted>("trib.batch_emitted");
  cfg.add_message_type<HostSnapshot>("trib.host_snapshot");
}

}  // namespace trib
