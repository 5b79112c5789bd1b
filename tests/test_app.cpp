// The network word count app as a user runs it: flags, sources, output.
#define BOOST_TEST_MODULE app
#include <boost/test/unit_test.hpp>

#include <map>
#include <regex>
#include <thread>

#include "io/generator_receiver.hpp"
#include "oracle.hpp"
#include "process.hpp"
#include "tcp_server.hpp"

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Printed "(word, n)" lines summed over all batches.
std::map<std::string, int64_t> printed_counts(const std::string& out) {
  std::map<std::string, int64_t> printed;
  std::regex pair_line(R"(^\((\S+), (\d+)\)$)");
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, pair_line)) printed[m[1]] += std::stoll(m[2]);
  }
  return printed;
}

}  // namespace

BOOST_AUTO_TEST_CASE(help_prints_usage_and_exits_zero) {
  auto r = testing::run_app("network_wordcount", {"--help"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(contains(r.out, "--batch-ms"));
  BOOST_TEST(contains(r.out, "--source"));
}

BOOST_AUTO_TEST_CASE(invalid_flags_name_the_problem_and_exit_nonzero) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"--bogus"}, "unknown flag --bogus"},
      {{"--batch-ms", "abc"}, "invalid value 'abc' for --batch-ms"},
      {{"--batch-ms", "0"}, "--batch-ms must be positive"},
      {{"--partitions"}, "flag --partitions needs a value"},
      {{"--source", "socket://nohostport"}, "--source must be"},
      {{"--source", "socket://127.0.0.1:9?end-at-close&bogus=1"}, "unknown parameter 'bogus=1'"},
      {{"--source", "socket://127.0.0.1:9?idle-timeout-ms="}, "unknown parameter 'idle-timeout-ms='"},
      {{"--source", "socket://127.0.0.1:9?max-line-kib=0"}, "max-line-kib must be 1..262144, got 0"},
      {{"--source", "socket://127.0.0.1:9?max-line-kib=300000"}, "max-line-kib must be 1..262144, got 300000"},
      {{"--log-level", "loud"}, "unknown --log-level"},
      {{"--coordinator-map-slots", "-2"}, "--coordinator-map-slots must be -1 (one per scheduler thread) or 0..4096, got -2"},
  };
  for (auto& c : cases) {
    auto r = testing::run_app("network_wordcount", c.args);
    BOOST_TEST(r.exit_code == 2, c.args[0]);
    BOOST_TEST(contains(r.err, c.message), r.err);
    BOOST_TEST(contains(r.err, "usage:"));
  }
}

BOOST_AUTO_TEST_CASE(unreachable_socket_is_logged_and_retried) {
  uint16_t port = testing::unused_port();
  auto r = testing::run_app("network_wordcount",
                            {"--source", "socket://127.0.0.1:" + std::to_string(port),
                             "--batch-ms", "200", "--duration", "1"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(contains(r.err, "cannot connect: Connection refused; retrying"), r.err);
}

// With ?end-at-close the app ends by itself when the server has sent
// everything and closed, long before its --duration, every line counted.
BOOST_AUTO_TEST_CASE(a_socket_source_that_ends_at_the_close_ends_the_app) {
  testing::TcpServer server;
  std::vector<std::string> lines;
  for (int i = 0; i < 5000; ++i) lines.push_back("delta w" + std::to_string(i % 17) + " epsilon");
  std::thread feeder([&] {
    server.accept_client();
    std::string bytes;
    for (auto& l : lines) bytes += l + "\n";
    server.send(bytes);
    server.close_client();
  });
  auto r = testing::run_app("network_wordcount",
                            {"--source", "socket://127.0.0.1:" + std::to_string(server.port()) +
                                             "?idle-timeout-ms=60000&end-at-close",
                             "--batch-ms", "30000", "--duration", "120", "--print", "1000"});
  feeder.join();
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(contains(r.err, "every receiver reached the end of its input"), r.err);
  BOOST_TEST(!contains(r.err, "duration reached"), r.err);
  BOOST_TEST((printed_counts(r.out) == oracle::word_counts(lines)));
}

BOOST_AUTO_TEST_CASE(socket_source_counts_match_a_plain_count) {
  testing::TcpServer server;
  std::vector<std::string> lines;
  for (int i = 0; i < 2000; ++i)
    lines.push_back("alpha beta w" + std::to_string(i % 13) + " gamma");
  std::thread feeder([&] {
    server.accept_client();
    std::string bytes;
    for (auto& l : lines) bytes += l + "\n";
    server.send(bytes);
  });
  auto r = testing::run_app("network_wordcount",
                            {"--source", "socket://127.0.0.1:" + std::to_string(server.port()),
                             "--batch-ms", "100", "--duration", "2", "--print", "1000"});
  feeder.join();
  BOOST_TEST(r.exit_code == 0, r.err);
  // Sum the printed per-batch counts: they must equal a plain count.
  BOOST_TEST((printed_counts(r.out) == oracle::word_counts(lines)));
  BOOST_TEST(contains(r.out, "-------------------------------------------\nTime: "));
}
