// A fault-injecting TCP proxy on loopback: a worker joins the coordinator
// through it, and the runner breaks the link on command: reset its
// connections, stop forwarding in one or both directions for a while (a
// partition: TCP holds the bytes, nothing is lost or reordered, as when
// packets are dropped and retransmitted), add latency, or cap the bandwidth.
// One accept thread plus two pump threads per open connection (a pump ends
// with its connection, so workers that reconnect often cost no threads).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace trib::chaos {

class FaultProxy {
 public:
  // Listens on an ephemeral port of 127.0.0.1 and forwards to
  // 127.0.0.1:target_port. Throws std::runtime_error if it cannot listen.
  explicit FaultProxy(uint16_t target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  uint16_t port() const { return port_; }

  // Closes every open connection at once (new ones are accepted again).
  void reset();
  // Stops forwarding (true) or resumes: worker -> coordinator, coordinator -> worker.
  void hold(bool up, bool down);
  void set_delay_ms(int64_t ms) { delay_ms_ = ms; }
  void set_rate(int64_t bytes_per_s) { rate_ = bytes_per_s; }  // 0: unlimited
  // Back to a clean link (ends every fault).
  void heal();

  int64_t connections_accepted() const { return accepted_; }
  int64_t bytes_forwarded() const { return bytes_; }

 private:
  struct Link;
  void accept_loop();
  void pump(std::shared_ptr<Link> link, bool up);
  // Runs pump on a thread of its own; false if no thread could be made.
  bool start_pump(const std::shared_ptr<Link>& link, bool up);

  uint16_t target_port_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> hold_up_{false}, hold_down_{false};
  std::atomic<int64_t> delay_ms_{0}, rate_{0}, accepted_{0}, bytes_{0};
  std::mutex mutex_;
  std::vector<std::weak_ptr<Link>> links_;
  int live_pumps_ = 0;  // detached pump threads still running (the destructor waits for 0)
  std::condition_variable pumps_done_;
  std::thread acceptor_;
};

}  // namespace trib::chaos
