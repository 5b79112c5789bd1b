// The job's status (dstream/core/job_status.hpp) as the status server serves
// it: JSON for /api/v1/* and the Prometheus text exposition format (0.0.4)
// for /metrics. Pure functions of a snapshot, tested on their own.
#pragma once

#include <string>

#include "dstream/core/job_status.hpp"

namespace trib {

std::string status_json(const JobStatus& s);       // /api/v1/status
std::string batches_json(const JobStatus& s);      // /api/v1/batches: oldest first
std::string receivers_json(const JobStatus& s);    // /api/v1/receivers
std::string workers_json(const JobStatus& s);      // /api/v1/workers
std::string checkpoints_json(const JobStatus& s);  // /api/v1/checkpoints
std::string operators_json(const JobStatus& s);    // /api/v1/operators: state per stateful operator

std::string metrics_text(const JobStatus& s);      // /metrics

}  // namespace trib
