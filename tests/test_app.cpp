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
  std::map<std::string, int64_t> printed;
  std::regex pair_line(R"(^\((\S+), (\d+)\)$)");
  std::istringstream out(r.out);
  for (std::string line; std::getline(out, line);) {
    std::smatch m;
    if (std::regex_match(line, m, pair_line)) printed[m[1]] += std::stoll(m[2]);
  }
  BOOST_TEST((printed == oracle::word_counts(lines)));
  BOOST_TEST(contains(r.out, "-------------------------------------------\nTime: "));
}
