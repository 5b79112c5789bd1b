// socketTextStream's receiver: reads UTF-8 text lines from a TCP server.
// An unreachable server or a dropped connection is logged and retried with
// exponential backoff (100 ms up to 5 s), like Spark's receiver restarts.
#pragma once

#include <cstdint>
#include <string>

#include "dstream/core/receiver.hpp"

namespace trib {

class SocketReceiver : public Receiver {
 public:
  SocketReceiver(std::string host, uint16_t port)
      : host_(std::move(host)), port_(port) {}

  std::string describe() const override;
  void run(ReceiverContext& ctx) override;

 private:
  std::string host_;
  uint16_t port_;
};

}  // namespace trib
