// The progress line a job logs at the default level every N seconds
// (--progress-seconds): batches done, record rates, the last batch's
// processing time and scheduling delay, and a warning when the job falls
// behind (batches take longer than the interval, the scheduling delay
// grows, or no batch completes while some wait). Plain logic over two
// status snapshots, so a test can feed it figures.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dstream/core/job_status.hpp"

namespace trib {

struct ProgressReport {
  std::string line;     // logged at info
  std::string warning;  // empty: keeping up; else logged at warn
};

class ProgressMeter {
 public:
  // The report for `now`, `elapsed_ms` after the previous one (or the start).
  ProgressReport report(const JobStatus& now, int64_t elapsed_ms);

 private:
  std::optional<JobStatus> prev_;
};

}  // namespace trib
