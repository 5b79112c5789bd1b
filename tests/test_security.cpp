// Who may join a cluster (real processes on loopback): with mutual TLS a
// coordinator and two workers compute what a single process does; peers
// without a certificate of the cluster's CA (another CA, plain CAF, raw
// bytes announcing a 4 GiB frame) get nothing and the job goes on; an
// authenticated peer cannot stop the job nor learn the pipeline's
// fingerprint; unsafe listen addresses and broken TLS flags are refused.
// Bounded peers (the coordinator's PeerGate): a flood of idle connections
// under `ulimit -n 1024` is capped, peers that do not finish their
// handshake are closed, and without TLS an oversized frame is dropped.
#define BOOST_TEST_MODULE security
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cstdlib>
#include <fstream>
#include <regex>

#include "cluster_helpers.hpp"

using namespace testing;

namespace {

std::string source_dir() {
  const char* dir = std::getenv("TRIB_SOURCE_DIR");
  return dir ? dir : "..";
}

// A CA and a certificate per name in `dir`, by bench/make-certs.sh (openssl).
void make_certs(const std::string& dir, const std::string& names) {
  std::string cmd = "bash " + source_dir() + "/bench/make-certs.sh " + dir + " " + names + " 2>/dev/null";
  BOOST_REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd);
}

std::vector<std::string> tls_flags(const std::string& dir, const std::string& name) {
  return {"--tls-ca", dir + "/ca.pem", "--tls-cert", dir + "/" + name + ".pem", "--tls-key",
          dir + "/" + name + ".key"};
}

// A TCP connection to ip:port, or -1.
int connect_to(const std::string& ip, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
  ::close(fd);
  return -1;
}

// Waits up to 10 s until something accepts on 127.0.0.1:port.
bool wait_listening(uint16_t port) {
  for (int i = 0; i < 1000; ++i) {
    int fd = connect_to("127.0.0.1", port);
    if (fd >= 0) {
      ::close(fd);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

bool running(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == 0; }

// Resident memory of `pid` in MB (VmRSS).
int64_t rss_mb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) / 1024;
  return -1;
}

// True if the other end closed (or reset) fd within timeout_ms.
bool closed_within(int fd, int timeout_ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) != 1) return false;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
  }
}

// Starts checkpointed_wordcount as a coordinator on 127.0.0.1:port, logging
// at info to `log`; with fd_limit > 0 under that descriptor limit (`ulimit -n`).
pid_t spawn_coordinator(const WordcountJob& job, const std::string& dir, uint16_t port,
                        const std::vector<std::string>& extra, LogFile& log, rlim_t fd_limit = 0) {
  rlimit ours{};
  getrlimit(RLIMIT_NOFILE, &ours);
  rlimit child = ours;
  if (fd_limit > 0) child.rlim_cur = fd_limit;
  setrlimit(RLIMIT_NOFILE, &child);  // the child inherits it at fork
  pid_t pid = spawn_app("checkpointed_wordcount",
                        with(job.args("running", dir, "info"), with({"--listen", std::to_string(port)}, extra)),
                        log.fd, log.fd);
  setrlimit(RLIMIT_NOFILE, &ours);
  return pid;
}

// Waits up to 10 s for the first batch in dir; how many there are.
std::size_t wait_first_batch(const std::string& dir) {
  std::size_t batches = 0;
  for (int i = 0; i < 1000 && batches == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    batches = read_output(dir).size();
  }
  return batches;
}

// A CAF (BASP) frame header: operation, payload length in network order.
std::string basp_header(unsigned char operation, uint32_t length) {
  std::string h(32, '\0');
  h[0] = static_cast<char>(operation);
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<char>(length >> (24 - 8 * i));
  return h;
}

bool send_all(int fd, const std::string& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// Runs peer_probe with args for at most `seconds`; its stdout.
std::string probe(const std::vector<std::string>& args, int seconds) {
  TempDir dir;
  LogFile out(dir.path + "/out"), err(dir.path + "/err");
  pid_t pid = spawn_app("peer_probe", args, out.fd, err.fd);
  for (int i = 0; i < seconds * 100 && running(pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (running(pid)) kill(pid, SIGKILL);
  wait_exit(pid);
  return out.text();
}

// The coordinator's own graph fingerprint, from its log of a refused worker.
std::string coordinator_fingerprint(const std::string& log) {
  std::smatch m;
  std::regex ours("ours ([0-9a-f]+)\\)");
  return std::regex_search(log, m, ours) ? m[1].str() : std::string();
}

}  // namespace

BOOST_AUTO_TEST_CASE(with_tls_a_coordinator_and_two_workers_equal_a_single_process) {
  auto job = cluster_job();
  auto want = reference_run(job, "running", {});
  TempDir certs;
  make_certs(certs.path, "coordinator worker");
  ThreeProcesses cluster(job, "running", tls_flags(certs.path, "coordinator"), tls_flags(certs.path, "worker"));
  auto log = cluster.coordinator_log_after_exit();
  BOOST_TEST(log.find("(mutual TLS)") != std::string::npos, log);
  BOOST_TEST(log.find("2 workers joined: starting") != std::string::npos, log);
  expect_clean_exit(cluster.w1, "worker 1", cluster.w1_log);
  expect_clean_exit(cluster.w2, "worker 2", cluster.w2_log);
  check_equal(job, "running", read_output(cluster.dir.path), want);
}

BOOST_AUTO_TEST_CASE(peers_without_a_certificate_of_the_cluster_ca_get_nothing_and_the_job_goes_on) {
  auto job = cluster_job();
  job.batches = 150;  // 15 s: the attacks below happen while it runs
  job.total_lines = job.batches * job.lines_per_batch;
  TempDir dir, certs, other_ca;
  make_certs(certs.path, "coordinator peer");
  make_certs(other_ca.path, "intruder");
  uint16_t port = unused_port();
  LogFile log(dir.path + "/coordinator.log");
  pid_t coordinator = spawn_coordinator(job, dir.path, port, tls_flags(certs.path, "coordinator"), log);
  BOOST_REQUIRE_MESSAGE(wait_listening(port), log.text());
  std::size_t batches_before = wait_first_batch(dir.path);

  auto at = std::vector<std::string>{"127.0.0.1", std::to_string(port)};
  // A certificate of another CA: cut off in the TLS handshake.
  auto other = probe(with(at, {other_ca.path + "/ca.pem", other_ca.path + "/intruder.pem", other_ca.path + "/intruder.key"}), 10);
  BOOST_TEST(other.rfind("handle\n", 0) != 0, other);
  // A plain CAF client (no TLS): its protocol is no TLS handshake.
  auto plain = probe(at, 5);
  BOOST_TEST(plain.rfind("handle\n", 0) != 0, plain);

  // A raw CAF client handshake header announcing a 4 GiB payload.
  int fd = connect_to("127.0.0.1", port);
  BOOST_REQUIRE(fd >= 0);
  BOOST_TEST(send_all(fd, basp_header(1, 0xffffffffu)));
  BOOST_TEST(closed_within(fd, 1000), "the coordinator closes the connection at once");
  ::close(fd);
  // A client that sends nothing, and one that stops inside its ClientHello
  // (a handshake record of 200 bytes, 50 sent): closed after the handshake
  // timeout (3 s).
  int idle = connect_to("127.0.0.1", port), stalled = connect_to("127.0.0.1", port);
  BOOST_REQUIRE(idle >= 0 && stalled >= 0);
  std::string hello{22, 3, 1, 0, static_cast<char>(200)};
  BOOST_TEST(send_all(stalled, hello + std::string(50, 'x')));
  BOOST_TEST(closed_within(idle, 5000), "an idle connection is closed");
  BOOST_TEST(closed_within(stalled, 1000), "a connection stalled in its handshake is closed");
  ::close(idle);
  ::close(stalled);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int64_t rss = rss_mb(coordinator);
  BOOST_TEST(rss < 200, "coordinator RSS " << rss << " MB after the 4 GiB header");

  // A peer holding a certificate of the cluster's CA is let in (TLS
  // authenticates nodes, it does not vet them) but cannot stop the job, and
  // a refused join does not tell it the expected fingerprint.
  auto member = probe(with(at, {certs.path + "/ca.pem", certs.path + "/peer.pem", certs.path + "/peer.key"}), 10);
  BOOST_TEST(member.rfind("handle\n", 0) == 0, member);
  BOOST_TEST(member.find("refused: ") != std::string::npos, member);

  BOOST_TEST(running(coordinator), "the job still runs after the attacks\n" << log.text());
  std::size_t batches_after = read_output(dir.path).size();
  BOOST_TEST(batches_after > batches_before, "batches published during the attacks");
  BOOST_REQUIRE_MESSAGE(wait_exit(coordinator) == 0, log.text());
  auto fp = coordinator_fingerprint(log.text());
  BOOST_REQUIRE_MESSAGE(!fp.empty(), log.text());
  BOOST_TEST(member.find(fp) == std::string::npos, member);
  BOOST_TEST(log.has("ignored a stop message"), log.text());
  // Every batch, to the last, is there and right: the peer's stop did nothing.
  auto out = read_output(dir.path);
  BOOST_TEST(out.size() >= static_cast<std::size_t>(job.batches));
  job.check_against_oracle("running", out);
}

// A TLS handshake that fails (one byte 0x16 then a close, a client without a
// certificate) must not cost the cluster its workers: CAF 0.17 left the
// failure in OpenSSL's error queue, where the next TLS read on any other
// connection found it and closed that one (dstream/openssl_error_queue.cpp).
BOOST_AUTO_TEST_CASE(failed_tls_handshakes_of_strangers_do_not_cost_the_cluster_its_workers) {
  auto job = cluster_job();
  job.batches = 150;  // 15 s: the connections below come while the workers work
  job.total_lines = job.batches * job.lines_per_batch;
  auto want = reference_run(job, "running", {});
  TempDir certs, other_ca;
  make_certs(certs.path, "coordinator worker");
  make_certs(other_ca.path, "intruder");
  ThreeProcesses cluster(job, "running", tls_flags(certs.path, "coordinator"), tls_flags(certs.path, "worker"));
  BOOST_REQUIRE_MESSAGE(cluster.started(), cluster.coord_log.text());
  auto at = std::vector<std::string>{"127.0.0.1", std::to_string(cluster.port)};
  for (int round = 0; round < 3; ++round) {
    int fd = connect_to("127.0.0.1", cluster.port);
    BOOST_REQUIRE(fd >= 0);
    BOOST_TEST(send_all(fd, std::string(1, '\x16')));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::close(fd);
    auto intruder = probe(with(at, {other_ca.path + "/ca.pem", other_ca.path + "/intruder.pem",
                                    other_ca.path + "/intruder.key"}), 5);
    BOOST_TEST(intruder.rfind("handle\n", 0) != 0, intruder);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  auto log = cluster.coordinator_log_after_exit();
  BOOST_TEST(cluster.events.find("worker_lost").empty(), log);
  expect_clean_exit(cluster.w1, "worker 1", cluster.w1_log);
  expect_clean_exit(cluster.w2, "worker 2", cluster.w2_log);
  check_equal(job, "running", read_output(cluster.dir.path), want);
}

BOOST_AUTO_TEST_CASE(a_worker_of_another_pipeline_with_a_valid_certificate_does_not_learn_the_fingerprint) {
  auto job = cluster_job();
  TempDir dir, certs;
  make_certs(certs.path, "coordinator worker");
  uint16_t port = unused_port();
  LogFile coord_log(dir.path + "/coordinator.log"), w_log(dir.path + "/w.log");
  pid_t coordinator = spawn_app(
      "checkpointed_wordcount",
      with(job.args("running", dir.path), with({"--listen", std::to_string(port)}, tls_flags(certs.path, "coordinator"))),
      coord_log.fd, coord_log.fd);
  auto worker = with(job.args("windowed", dir.path + "/w"),
                     with({"--join", "127.0.0.1:" + std::to_string(port)}, tls_flags(certs.path, "worker")));
  BOOST_TEST(wait_exit(spawn_app("checkpointed_wordcount", worker, w_log.fd, w_log.fd)) == 1);
  BOOST_TEST(w_log.has("the worker runs a different pipeline"), w_log.text());
  BOOST_TEST(wait_exit(coordinator) == 0, coord_log.text());
  auto fp = coordinator_fingerprint(coord_log.text());
  BOOST_REQUIRE_MESSAGE(!fp.empty(), coord_log.text());
  BOOST_TEST(!w_log.has(fp), w_log.text());
}

BOOST_AUTO_TEST_CASE(unsafe_listen_addresses_and_broken_tls_flags_are_refused_before_starting) {
  auto job = cluster_job();
  TempDir dir, certs;
  make_certs(certs.path, "node");
  auto port = std::to_string(unused_port());
  auto open = run_app("checkpointed_wordcount", with(job.args("running", dir.path), {"--listen", "0.0.0.0:" + port}));
  BOOST_TEST(open.exit_code == 2);
  BOOST_TEST(open.err.find("refusing to listen on 0.0.0.0 without TLS") != std::string::npos, open.err);
  BOOST_TEST(open.err.find("--tls-ca --tls-cert --tls-key") != std::string::npos, open.err);

  auto partial = run_app("checkpointed_wordcount",
                         with(job.args("running", dir.path), {"--listen", port, "--tls-ca", certs.path + "/ca.pem"}));
  BOOST_TEST(partial.exit_code == 2);
  BOOST_TEST(partial.err.find("missing: --tls-cert, --tls-key") != std::string::npos, partial.err);

  auto flags = tls_flags(certs.path, "node");
  flags[3] = certs.path + "/absent.pem";
  auto absent = run_app("checkpointed_wordcount", with(job.args("running", dir.path), with({"--join", "127.0.0.1:" + port}, flags)));
  BOOST_TEST(absent.exit_code == 2);
  BOOST_TEST(absent.err.find("--tls-cert " + certs.path + "/absent.pem: No such file or directory") != std::string::npos,
             absent.err);

  flags = tls_flags(certs.path, "node");
  flags[5] = certs.path + "/ca.key";  // a key, but not the certificate's
  auto mismatched = run_app("checkpointed_wordcount", with(job.args("running", dir.path), with({"--listen", port}, flags)));
  BOOST_TEST(mismatched.exit_code == 2);
  BOOST_TEST(mismatched.err.find("not the unencrypted PEM private key of --tls-cert") != std::string::npos, mismatched.err);

  // --insecure allows it, with a warning at start.
  auto insecure = run_app("checkpointed_wordcount",
                          with(job.args("running", dir.path + "/i", "info"), {"--listen", "0.0.0.0:" + port, "--insecure"}));
  BOOST_TEST(insecure.exit_code == 0, insecure.err);
  BOOST_TEST(insecure.err.find("INSECURE: listening on 0.0.0.0 without TLS") != std::string::npos, insecure.err);
}

BOOST_AUTO_TEST_CASE(a_bare_listen_port_accepts_on_loopback_only) {
  std::string other;  // a non-loopback IPv4 address of this host
  ifaddrs* addrs = nullptr;
  getifaddrs(&addrs);
  for (auto* a = addrs; a && other.empty(); a = a->ifa_next)
    if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof(text));
      if (std::string(text).rfind("127.", 0) != 0) other = text;
    }
  freeifaddrs(addrs);
  if (other.empty()) {
    BOOST_TEST_MESSAGE("no non-loopback IPv4 address here: nothing to check");
    return;
  }
  auto job = cluster_job();
  TempDir dir;
  uint16_t port = unused_port();
  LogFile log(dir.path + "/coordinator.log");
  pid_t coordinator = spawn_coordinator(job, dir.path, port, {}, log);
  BOOST_REQUIRE_MESSAGE(wait_listening(port), log.text());
  int fd = connect_to(other, port);
  BOOST_TEST(fd < 0, "connected to " << other << ":" << port);
  if (fd >= 0) ::close(fd);
  BOOST_TEST(wait_exit(coordinator) == 0, log.text());
}

BOOST_AUTO_TEST_CASE(a_flood_of_idle_connections_under_ulimit_1024_is_capped_and_the_job_publishes_every_batch) {
  auto job = cluster_job();
  job.batches = 120;  // 12 s: the flood happens while it runs
  job.total_lines = job.batches * job.lines_per_batch;
  TempDir dir;
  uint16_t port = unused_port();
  LogFile log(dir.path + "/coordinator.log"), w_log(dir.path + "/w.log");
  // One worker joins before the flood and must keep its connection.
  pid_t coordinator = spawn_coordinator(job, dir.path, port, {"--min-workers", "1", "--max-peers", "64"}, log, 1024);
  pid_t worker = spawn_app("checkpointed_wordcount",
                           with(job.args("running", dir.path), {"--join", "127.0.0.1:" + std::to_string(port)}),
                           w_log.fd, w_log.fd);
  BOOST_REQUIRE_MESSAGE(wait_first_batch(dir.path) > 0, log.text());

  // This process needs more than 1,100 descriptors itself.
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = std::max<rlim_t>(lim.rlim_cur, std::min<rlim_t>(lim.rlim_max, 4096));
  setrlimit(RLIMIT_NOFILE, &lim);
  BOOST_REQUIRE_MESSAGE(lim.rlim_cur >= 1200, "this test needs 1,200 descriptors, the hard limit is " << lim.rlim_max);
  std::vector<int> fds;
  for (int i = 0; i < 1100; ++i)
    if (int fd = connect_to("127.0.0.1", port); fd >= 0) fds.push_back(fd);
  BOOST_TEST(fds.size() >= 1000u, fds.size() << " of 1,100 connected");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::size_t refused = 0;
  for (int fd : fds) refused += closed_within(fd, 0);
  // The worker holds one of the 64 places: at most 63 wait for a handshake.
  BOOST_TEST(refused >= fds.size() - 63, refused << " of " << fds.size() << " refused within 1 s");
  int64_t rss = rss_mb(coordinator);
  BOOST_TEST(rss < 200, "coordinator RSS " << rss << " MB during the flood");
  std::size_t closed = 0;
  for (int fd : fds) closed += closed_within(fd, 4000);
  BOOST_TEST(closed == fds.size(), closed << " of " << fds.size() << " closed after the handshake timeout");
  for (int fd : fds) ::close(fd);

  BOOST_TEST(running(coordinator), "the job still runs after the flood\n" << log.text());
  BOOST_REQUIRE_MESSAGE(wait_exit(coordinator) == 0, log.text());
  BOOST_TEST(log.has("refused"), log.text());
  BOOST_TEST(!log.has("lost worker"), log.text());
  BOOST_TEST(wait_exit(worker) == 0, w_log.text());
  auto out = read_output(dir.path);
  BOOST_TEST(out.size() >= static_cast<std::size_t>(job.batches));
  job.check_against_oracle("running", out);
}

BOOST_AUTO_TEST_CASE(without_tls_a_peer_that_does_not_send_its_handshake_in_time_is_closed) {
  auto job = cluster_job();
  TempDir dir;
  uint16_t port = unused_port();
  LogFile log(dir.path + "/coordinator.log");
  pid_t coordinator = spawn_coordinator(job, dir.path, port, {"--handshake-ms", "1500"}, log);
  BOOST_REQUIRE_MESSAGE(wait_listening(port), log.text());
  // Nothing at all; half a handshake header; a whole header and part of its payload.
  int idle = connect_to("127.0.0.1", port), half = connect_to("127.0.0.1", port), part = connect_to("127.0.0.1", port);
  BOOST_REQUIRE(idle >= 0 && half >= 0 && part >= 0);
  auto start = std::chrono::steady_clock::now();
  BOOST_TEST(send_all(half, basp_header(1, 100).substr(0, 16)));
  BOOST_TEST(send_all(part, basp_header(1, 100) + std::string(40, 'x')));
  for (int fd : {idle, half, part}) {
    BOOST_TEST(closed_within(fd, 4000), "closed after --handshake-ms");
    ::close(fd);
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  BOOST_TEST(took.count() >= 1000, "closed after " << took.count() << " ms, not before the timeout");
  BOOST_TEST(wait_exit(coordinator) == 0, log.text());
}

BOOST_AUTO_TEST_CASE(without_tls_frames_announcing_4_gib_are_dropped_before_and_after_the_handshake) {
  auto job = cluster_job();
  job.batches = 80;
  job.total_lines = job.batches * job.lines_per_batch;
  TempDir dir;
  uint16_t port = unused_port();
  LogFile log(dir.path + "/coordinator.log");
  pid_t coordinator = spawn_coordinator(job, dir.path, port, {"--max-frame-mb", "16"}, log);
  BOOST_REQUIRE_MESSAGE(wait_listening(port), log.text());
  std::size_t batches_before = wait_first_batch(dir.path);

  // As the first frame: a client handshake announcing 4 GiB.
  int fd = connect_to("127.0.0.1", port);
  BOOST_REQUIRE(fd >= 0);
  BOOST_TEST(send_all(fd, basp_header(1, 0xffffffffu)));
  BOOST_TEST(closed_within(fd, 1000), "dropped at once");
  ::close(fd);

  // After a real CAF client handshake (peer_probe's, recorded): a message
  // announcing 4 GiB, then one 16 MiB + 1 byte.
  TcpServer recorder;
  TempDir probe_dir;
  LogFile probe_out(probe_dir.path + "/out");
  pid_t probe = spawn_app("peer_probe", {"127.0.0.1", std::to_string(recorder.port())}, probe_out.fd, probe_out.fd);
  recorder.accept_client();
  std::string handshake = recorder.receive(32);
  uint32_t length = 0;
  for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<unsigned char>(handshake[4 + i]);
  BOOST_REQUIRE_EQUAL(handshake[0], 1);  // client_handshake
  handshake += recorder.receive(length);
  kill(probe, SIGKILL);
  wait_exit(probe);
  for (uint32_t announced : {0xffffffffu, (16u << 20) + 1}) {
    fd = connect_to("127.0.0.1", port);
    BOOST_REQUIRE(fd >= 0);
    BOOST_TEST(send_all(fd, handshake));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    BOOST_TEST(!closed_within(fd, 0), "the recorded handshake is taken");
    auto message = basp_header(2, announced);
    message[31] = 1;  // to actor 1: a header CAF takes as valid (and allocates for)
    BOOST_TEST(send_all(fd, message));
    BOOST_TEST(closed_within(fd, 1000), "dropped at once after announcing " << announced);
    ::close(fd);
    // CAF forgets the recorded node when it sees the connection end; a
    // second connection from that node before then would be refused.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int64_t rss = rss_mb(coordinator);
  BOOST_TEST(rss < 200, "coordinator RSS " << rss << " MB after the 4 GiB headers");
  BOOST_TEST(log.wait_for("(last: a CAF frame announcing"), log.text());
  BOOST_TEST(running(coordinator), log.text());
  BOOST_TEST(read_output(dir.path).size() > batches_before, "batches published during the attacks");
  BOOST_REQUIRE_MESSAGE(wait_exit(coordinator) == 0, log.text());
  auto out = read_output(dir.path);
  BOOST_TEST(out.size() >= static_cast<std::size_t>(job.batches));
  job.check_against_oracle("running", out);
}
