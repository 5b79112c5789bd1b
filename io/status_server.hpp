// The job's own web server (cpp-httplib, two threads): the live status page,
// /metrics in Prometheus's text format and the JSON status API. It only reads
// copies of the StatusBoard the coordinator publishes into.
//
//   GET /                      the page (io/ui/index.html; charts by Chart.js,
//                              embedded from Debian's libjs-chart.js at build time)
//   GET /ui/<file>             its script, style sheet and Chart.js
//   GET /metrics               Prometheus text exposition format 0.0.4
//   GET /api/v1/status         the job: state, counters, the last batch
//   GET /api/v1/batches        the retained batches, oldest first
//   GET /api/v1/receivers      receivers: state, rate, records, last error
//   GET /api/v1/workers        this process and the workers: state, heartbeat age, tasks, state partitions
//   GET /api/v1/checkpoints    the last checkpoints: time, duration, size
//   GET /api/v1/operators      state per stateful operator
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dstream/core/job_status.hpp"

namespace trib {

class StatusServer {
 public:
  // Listens on host:port (0: a free port, see port()); throws
  // std::runtime_error naming the address and the reason if it cannot.
  StatusServer(std::shared_ptr<const StatusBoard> board, const std::string& host, uint16_t port);
  ~StatusServer();  // stops serving and joins its threads

  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trib
