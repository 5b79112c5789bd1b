// The file sink behind saveAsTextFiles: one directory per batch,
// prefix-<batch time ms>[.suffix], holding part-NNNNN files, one per
// partition. Tasks write their part into a temporary directory; the sink
// actor publishes it with one atomic rename once every part is written, so
// readers never see half a batch, and a batch already published (a re-run
// after a restart) is never written twice.
#pragma once

#include <cstdint>
#include <string>

namespace trib {

std::string batch_output_dir(const std::string& prefix, const std::string& suffix,
                             int64_t batch_time_ms);

// Called by a task: writes partition `partition` of the batch. Skips the
// write if the batch was already published.
void write_batch_part(const std::string& prefix, const std::string& suffix,
                      int64_t batch_time_ms, int partition, const std::string& text);

// Called by the sink once every part was written: publishes the batch.
// Returns false if it was already published before.
bool commit_batch_output(const std::string& prefix, const std::string& suffix,
                         int64_t batch_time_ms);

}  // namespace trib
