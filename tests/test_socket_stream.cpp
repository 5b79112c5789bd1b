// socketTextStream against a real TCP server on loopback: every line sent is
// counted exactly once, whatever the TCP read and batch boundaries.
#define BOOST_TEST_MODULE socket_stream
#include <boost/test/unit_test.hpp>

#include <random>
#include <thread>

#include "job_helpers.hpp"
#include "oracle.hpp"
#include "tcp_server.hpp"

namespace {

using Lines = std::vector<std::string>;
using Counts = std::pair<std::string, int64_t>;

Lines make_lines(int first, int n) {
  Lines lines;
  for (int i = first; i < first + n; ++i)
    lines.push_back("line" + std::to_string(i) + " w" + std::to_string(i % 37) + " w" +
                    std::to_string(i % 5) + " common");
  return lines;
}

// Sends lines in random-size writes, so lines are split across TCP reads.
void send_in_random_chunks(testing::TcpServer& server, const Lines& lines, std::mt19937& rng) {
  std::string bytes;
  for (auto& l : lines) bytes += l + "\n";
  std::uniform_int_distribution<std::size_t> chunk(1, 3000);
  for (std::size_t pos = 0; pos < bytes.size();) {
    std::size_t n = std::min(chunk(rng), bytes.size() - pos);
    server.send(bytes.substr(pos, n));
    pos += n;
  }
}

void wait_received(trib::StreamingContext& ssc, int64_t n) {
  testing::eventually([&] { return ssc.receivedRecords() >= n; });
  BOOST_REQUIRE_EQUAL(ssc.receivedRecords(), n);
}

struct WordCountJob {
  explicit WordCountJob(trib::StreamingContext& ssc, const std::string& host, uint16_t port) {
    auto lines = ssc.socketTextStream(host, port);
    raw = testing::collect(lines);
    counts = testing::collect(
        lines.flatMap(trib::split_words)
            .map([](const std::string& w) { return Counts(w, 1); })
            .reduceByKey(std::plus<int64_t>()));
  }

  // Every batch's counts equal a plain count of that batch's lines, and the
  // batches together hold exactly the lines sent, in order.
  void check(const Lines& sent) const {
    auto raw_batches = raw->get();
    auto count_batches = counts->get();
    BOOST_REQUIRE_EQUAL(raw_batches.size(), count_batches.size());
    Lines received;
    for (std::size_t i = 0; i < raw_batches.size(); ++i) {
      BOOST_TEST(raw_batches[i].first == count_batches[i].first);
      BOOST_TEST((oracle::as_map(count_batches[i].second) ==
                  oracle::word_counts(raw_batches[i].second)),
                 "batch " << i);
      received.insert(received.end(), raw_batches[i].second.begin(),
                      raw_batches[i].second.end());
    }
    BOOST_TEST(received.size() == sent.size());
    BOOST_TEST((received == sent), "lines lost, doubled or reordered");
  }

  std::size_t non_empty_batches() const {
    std::size_t n = 0;
    for (auto& b : raw->get()) n += b.second.empty() ? 0 : 1;
    return n;
  }

  std::shared_ptr<testing::Collector<std::string>> raw;
  std::shared_ptr<testing::Collector<Counts>> counts;
};

}  // namespace

BOOST_AUTO_TEST_CASE(every_line_counted_once_across_interval_boundaries) {
  testing::TcpServer server;
  trib::StreamingOptions opts;
  opts.partitions = 3;
  trib::StreamingContext ssc(std::chrono::milliseconds(50), opts);
  WordCountJob job(ssc, "127.0.0.1", server.port());
  ssc.start();
  server.accept_client();
  std::mt19937 rng(11);
  Lines sent;
  const int parts = 5;
  for (int part = 0; part < parts; ++part) {
    auto lines = make_lines(part * 4000, 4000);
    send_in_random_chunks(server, lines, rng);
    sent.insert(sent.end(), lines.begin(), lines.end());
    // Let a batch close before the next part, so the data spans batches.
    wait_received(ssc, static_cast<int64_t>(sent.size()));
    std::size_t done = ssc.completedBatches().size();
    BOOST_REQUIRE(ssc.awaitBatches(done + 2, std::chrono::seconds(30)));
  }
  ssc.stop(/*graceful=*/true);
  job.check(sent);
  BOOST_TEST(job.non_empty_batches() >= static_cast<std::size_t>(parts));
}

BOOST_AUTO_TEST_CASE(unreachable_server_is_retried_until_it_listens) {
  uint16_t port = testing::unused_port();
  trib::StreamingContext ssc(std::chrono::milliseconds(50));
  WordCountJob job(ssc, "127.0.0.1", port);
  ssc.start();
  // Nothing listens yet: the receiver keeps retrying while batches run empty.
  BOOST_REQUIRE(ssc.awaitBatches(6, std::chrono::seconds(30)));
  testing::TcpServer server(port);
  server.accept_client();
  auto lines = make_lines(0, 1000);
  std::mt19937 rng(3);
  send_in_random_chunks(server, lines, rng);
  wait_received(ssc, 1000);
  ssc.stop(true);
  job.check(lines);
}

BOOST_AUTO_TEST_CASE(reconnects_after_the_server_drops_the_connection) {
  testing::TcpServer server;
  trib::StreamingContext ssc(std::chrono::milliseconds(50));
  WordCountJob job(ssc, "127.0.0.1", server.port());
  ssc.start();
  server.accept_client();
  auto first = make_lines(0, 500);
  std::mt19937 rng(5);
  send_in_random_chunks(server, first, rng);
  // An unterminated last line is still a line once the connection ends.
  server.send("tail without newline");
  first.push_back("tail without newline");
  server.close_client();
  wait_received(ssc, static_cast<int64_t>(first.size()));
  server.accept_client();  // the receiver comes back
  auto second = make_lines(500, 500);
  send_in_random_chunks(server, second, rng);
  wait_received(ssc, static_cast<int64_t>(first.size() + second.size()));
  ssc.stop(true);
  Lines all = first;
  all.insert(all.end(), second.begin(), second.end());
  job.check(all);
}

BOOST_AUTO_TEST_CASE(graceful_stop_processes_everything_received) {
  // A batch interval far longer than the test: without a graceful stop no
  // batch would ever close and every line would be lost.
  testing::TcpServer server;
  trib::StreamingContext ssc(std::chrono::hours(24));
  WordCountJob job(ssc, "127.0.0.1", server.port());
  ssc.start();
  server.accept_client();
  auto lines = make_lines(0, 3000);
  std::mt19937 rng(9);
  send_in_random_chunks(server, lines, rng);
  wait_received(ssc, static_cast<int64_t>(lines.size()));
  BOOST_TEST(ssc.completedBatches().empty());
  ssc.stop(/*graceful=*/true);
  job.check(lines);
  BOOST_TEST(ssc.completedBatches().size() == 1u);
}
