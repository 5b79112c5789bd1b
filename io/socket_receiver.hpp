// socketTextStream's receiver: reads UTF-8 text lines from a TCP server.
// An unreachable server or a dropped connection is logged and retried with
// exponential backoff (100 ms up to 5 s), like Spark's receiver restarts.
//
// Where a connection ends decides what its unterminated last line is: at a
// clean close (the server sent FIN, or the job stops) it is a line, as
// Spark's readLine() returns it; when the connection breaks (reset, read
// error, idle timeout) it is dropped with a warning giving its size, since
// the server did not finish it and may send it again whole. Lines over
// 1 MiB are cut and reported as they happen.
#pragma once

#include <cstdint>
#include <string>

#include "dstream/core/receiver.hpp"

namespace trib {

struct SocketOptions {
  // > 0: a connection silent this long is taken as dead (a hung server, a
  // half-open TCP connection) and made again.
  int64_t idle_timeout_ms = 0;
  // A clean close by the server ends the input (a bounded source, as Flink's
  // socketTextStream without retries): the job then ends once all of it is
  // processed (dstream/core/receiver.hpp). A broken connection is still
  // made again, since the server did not finish.
  bool end_at_close = false;
  // A longer line is cut to this many bytes, and each one cut is logged: a
  // peer that never sends '\n' must not fill memory. Raise it for records
  // that are bigger (up to kMaxLineLimit).
  std::size_t max_line_bytes = std::size_t{1} << 20;
  static constexpr std::size_t kMaxLineLimit = std::size_t{256} << 20;
};

class SocketReceiver : public Receiver {
 public:
  SocketReceiver(std::string host, uint16_t port, SocketOptions options = {})
      : host_(std::move(host)), port_(port), options_(options) {}

  std::string describe() const override;
  void run(ReceiverContext& ctx) override;

 private:
  std::string host_;
  uint16_t port_;
  SocketOptions options_;
};

}  // namespace trib
