// socketTextStream against a real TCP server on loopback: every line sent is
// counted exactly once, whatever the TCP read and batch boundaries.
#define BOOST_TEST_MODULE socket_stream
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <mutex>
#include <map>
#include <atomic>
#include <random>
#include <sstream>
#include <thread>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "io/line_splitter.hpp"
#include "io/socket_receiver.hpp"
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
  explicit WordCountJob(trib::StreamingContext& ssc, const std::string& host, uint16_t port,
                        const trib::SocketOptions& options = {}) {
    auto lines = ssc.socketTextStream(host, port, options);
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

// A word count of the socket's lines as Text (the map-ahead path) reading
// a fresh server, collected per batch: started, and the server connected.
struct TextWordCount {
  TextWordCount(std::chrono::milliseconds interval, const trib::StreamingOptions& options,
                const trib::SocketOptions& socket = {})
      : ssc(interval, options),
        counts(testing::collect(ssc.socketTextStream("127.0.0.1", server.port(), socket)
                                    .flatMap(trib::split_words)
                                    .map([](const trib::Text& w) { return std::pair<trib::Text, int64_t>(w, 1); })
                                    .reduceByKey(std::plus<int64_t>()))) {
    ssc.start();
    server.accept_client();
  }

  // Every word's count over all batches, and the input records of all batches.
  std::pair<std::map<std::string, int64_t>, int64_t> totals() {
    std::map<std::string, int64_t> total;
    int64_t records = 0;
    for (auto& [t, rows] : counts->get())
      for (auto& [w, n] : rows) total[w] += n;
    for (auto& b : ssc.completedBatches()) records += b.input_records;
    return {total, records};
  }

  // For a source that ends at the close: sends `lines`, closes, waits for
  // the job to end, and checks every line and word was counted once.
  void send_all_and_check(const Lines& lines, std::mt19937& rng) {
    send_in_random_chunks(server, lines, rng);
    server.close_client();
    BOOST_REQUIRE(ssc.awaitTerminationOrTimeout(std::chrono::seconds(60)));
    auto [total, records] = totals();
    BOOST_TEST(records == static_cast<int64_t>(lines.size()));
    BOOST_TEST((total == oracle::word_counts(lines)));
  }

  testing::TcpServer server;  // outlives the job reading it
  trib::StreamingContext ssc;
  std::shared_ptr<testing::Collector<trib::owned_t<std::pair<trib::Text, int64_t>>>> counts;
};

// Captures the default logger's output while in scope.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() {
    sink_->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
  std::shared_ptr<spdlog::logger> previous_;
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
    std::size_t done = ssc.completedBatchCount();
    BOOST_REQUIRE(ssc.awaitBatches(done + 2, std::chrono::seconds(30)));
  }
  ssc.stop(/*graceful=*/true);
  job.check(sent);
  BOOST_TEST(job.non_empty_batches() >= static_cast<std::size_t>(parts));
}

// Map-ahead: a word count is the stream's only reader, so its input comes
// in slots mapped before each batch forms. Slots cut lines anywhere in the
// interval, reads cut them anywhere in a line: every word still counts
// once, and each slot's read buffers are let go as soon as it is mapped.
BOOST_AUTO_TEST_CASE(input_mapped_ahead_in_slots_is_counted_once) {
  for (int slots : {5, 0}) {
    trib::StreamingOptions opts;
    opts.partitions = 2;
    opts.map_ahead_slots = slots;
    TextWordCount job(std::chrono::milliseconds(100), opts);
    auto& ssc = job.ssc;
    std::mt19937 rng(5);
    Lines sent;
    // About 0.6 s and 8 MB: several batches of several slots, whose 2 MiB
    // read buffers fill and go back to the receiver while their batch runs.
    for (int part = 0; part < 40; ++part) {
      auto lines = make_lines(part * 4000, 4000);
      lines.push_back(u8"café naïve 日本");  // multi-byte UTF-8, split by random writes
      send_in_random_chunks(job.server, lines, rng);
      sent.insert(sent.end(), lines.begin(), lines.end());
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
    }
    wait_received(ssc, static_cast<int64_t>(sent.size()));
    ssc.stop(/*graceful=*/true);
    auto [total, records] = job.totals();
    BOOST_TEST((total == oracle::word_counts(sent)), "slots " << slots);
    BOOST_TEST(records == static_cast<int64_t>(sent.size()), "slots " << slots);
    if (slots > 0)
      BOOST_TEST(ssc.slotsMappedAhead() >= 4, "slots mapped ahead: " << ssc.slotsMappedAhead());
    else
      BOOST_TEST(ssc.slotsMappedAhead() == 0);
    BOOST_TEST(trib::receive_buffers_in_use() == 0u, "read buffers still held after the job ended");
  }
}

// Adaptive map-ahead (the default, -1 slots): where the map-side combine
// keeps most records as keys (every word distinct), each slot's keys would be
// merged again on the reduce side, so slots stop once 1 M records in big
// slot tasks showed it and the input comes whole at each close; where it
// shrinks them (a small vocabulary), slots go on. Either way every word
// counts once.
BOOST_AUTO_TEST_CASE(map_ahead_stops_where_slots_keep_most_records_as_keys) {
  for (bool distinct : {true, false}) {
    CapturedLog log;
    trib::StreamingOptions opts;
    opts.partitions = 2;
    TextWordCount job(std::chrono::milliseconds(100), opts);
    auto& ssc = job.ssc;
    std::mt19937 rng(9);
    Lines sent;
    int next_word = 0;
    auto send_part = [&](int lines_in_part) {
      Lines lines;
      for (int i = 0; i < lines_in_part; ++i) {
        std::string line;
        for (int w = 0; w < 8; ++w, ++next_word)
          line += (w ? " k" : "k") + std::to_string(distinct ? next_word : next_word % 97);
        lines.push_back(std::move(line));
      }
      send_in_random_chunks(job.server, lines, rng);
      sent.insert(sent.end(), lines.begin(), lines.end());
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
    };
    // 5.1 M words in 8 parts of 640,000, 15 ms apart: slots. A part cut
    // between two slots still leaves one with more than the 262,144 records
    // a task needs to count (CombineStats::kSmallestCounted): enough to judge.
    for (int part = 0; part < 8; ++part) send_part(80000);
    wait_received(ssc, static_cast<int64_t>(sent.size()));
    BOOST_REQUIRE(ssc.awaitBatches(ssc.completedBatchCount() + 3, std::chrono::seconds(60)));
    int64_t slots_before = ssc.slotsMappedAhead();
    BOOST_TEST(slots_before > 0, "distinct " << distinct);
    for (int part = 0; part < 20; ++part) send_part(2000);
    wait_received(ssc, static_cast<int64_t>(sent.size()));
    ssc.stop(/*graceful=*/true);
    auto [total, records] = job.totals();
    BOOST_TEST((total == oracle::word_counts(sent)), "distinct " << distinct);
    BOOST_TEST(records == static_cast<int64_t>(sent.size()), "distinct " << distinct);
    bool stopped = log.text().find("map-ahead off for stream") != std::string::npos;
    if (distinct) {
      BOOST_TEST(stopped);
      BOOST_TEST(ssc.slotsMappedAhead() == slots_before, "slots after the stop");
    } else {
      BOOST_TEST(!stopped);
      BOOST_TEST(ssc.slotsMappedAhead() > slots_before);
    }
  }
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
  BOOST_TEST(ssc.completedBatchCount() == 1u);
}

// After a fast burst the receiver waits for bigger reads (SO_RCVLOWAT,
// io/socket_receiver.cpp); a few lines that follow and then nothing more,
// on a connection left open, must still come in rather than wait for
// bytes that never arrive. Several rounds, so each burst is read in large
// reads at least once.
BOOST_AUTO_TEST_CASE(a_trickle_after_a_burst_is_read_without_more_data) {
  testing::TcpServer server;
  trib::StreamingContext ssc(std::chrono::milliseconds(50));
  WordCountJob job(ssc, "127.0.0.1", server.port());
  ssc.start();
  server.accept_client();
  Lines sent;
  for (int round = 0; round < 4; ++round) {
    auto burst = make_lines(static_cast<int>(sent.size()), 200000);  // about 7 MB in one write
    std::string bytes;
    for (auto& l : burst) bytes += l + "\n";
    server.send(bytes);
    sent.insert(sent.end(), burst.begin(), burst.end());
    auto trickle = make_lines(static_cast<int>(sent.size()), 3);
    for (auto& l : trickle) server.send(l + "\n");
    sent.insert(sent.end(), trickle.begin(), trickle.end());
    wait_received(ssc, static_cast<int64_t>(sent.size()));  // the connection stays open
  }
  ssc.stop(/*graceful=*/true);
  job.check(sent);
}

// A source that ends at the server's close ends the job: its open
// interval (a day long here, so no tick could close it) closes at once and
// everything accepted is processed. A broken connection is not an end: the
// receiver connects again and the job goes on.
BOOST_AUTO_TEST_CASE(a_source_that_ends_at_the_close_ends_the_job_with_everything_processed) {
  trib::SocketOptions ends;
  ends.end_at_close = true;
  std::mt19937 rng(21);
  {  // lines as strings: the receiver's input is cut when the interval closes
    testing::TcpServer server;
    trib::StreamingContext ssc(std::chrono::hours(24));
    WordCountJob job(ssc, "127.0.0.1", server.port(), ends);
    ssc.start();
    server.accept_client();
    auto first = make_lines(0, 700);
    send_in_random_chunks(server, first, rng);
    wait_received(ssc, static_cast<int64_t>(first.size()));
    server.reset_client();  // broken, not closed: the receiver comes back
    server.accept_client();
    auto second = make_lines(700, 900);
    send_in_random_chunks(server, second, rng);
    server.send("tail without newline");  // a line at a clean close
    second.push_back("tail without newline");
    server.close_client();
    BOOST_REQUIRE(ssc.awaitTerminationOrTimeout(std::chrono::seconds(60)));
    Lines all = first;
    all.insert(all.end(), second.begin(), second.end());
    job.check(all);
    BOOST_TEST(ssc.completedBatchCount() == 1u);
  }
  {  // Text word count, mapped ahead in slots
    trib::StreamingOptions options;
    options.map_ahead_slots = 4;
    TextWordCount job(std::chrono::milliseconds(400), options, ends);
    job.send_all_and_check(make_lines(0, 20000), rng);
  }
}

// A receiver that ended its input and then throws is not restarted: what it
// stored is the whole input, and a restart would read it again (or never
// end the job).
class EndsThenThrows final : public trib::Receiver {
 public:
  EndsThenThrows(std::vector<std::string> lines, std::shared_ptr<std::atomic<int>> runs)
      : lines_(std::move(lines)), runs_(std::move(runs)) {}
  std::string describe() const override { return "ends then throws"; }
  void run(trib::ReceiverContext& ctx) override {
    ++*runs_;
    ctx.store(lines_);
    ctx.end_of_input();
    throw std::runtime_error("closing failed");
  }

 private:
  std::vector<std::string> lines_;
  std::shared_ptr<std::atomic<int>> runs_;
};

BOOST_AUTO_TEST_CASE(a_receiver_that_fails_after_its_end_of_input_is_not_restarted) {
  auto lines = make_lines(0, 3000);
  auto runs = std::make_shared<std::atomic<int>>(0);
  trib::StreamingContext ssc(std::chrono::milliseconds(50));
  auto counts = std::make_shared<std::map<std::string, int64_t>>();
  auto mutex = std::make_shared<std::mutex>();
  ssc.receiverStream([=] { return std::make_unique<EndsThenThrows>(lines, runs); })
      .flatMap(trib::split_words)
      .map([](trib::Text w) { return std::pair<std::string, int64_t>(std::string(w), 1); })
      .reduceByKey(std::plus<int64_t>())
      .foreachRDD([=](const std::vector<std::pair<std::string, int64_t>>& rows, int64_t) {
        std::lock_guard<std::mutex> lock(*mutex);
        for (auto& [w, n] : rows) (*counts)[w] += n;
      });
  ssc.start();
  BOOST_REQUIRE_MESSAGE(ssc.awaitTerminationOrTimeout(std::chrono::seconds(30)),
                        "the job did not end with its receiver's input");
  BOOST_TEST(runs->load() == 1);
  std::lock_guard<std::mutex> lock(*mutex);
  BOOST_TEST((*counts == oracle::word_counts(lines)));
}

// Lines reach the engine as views into the blocks the receiver read. They
// must come out whole and unchanged when a line, or a multi-byte UTF-8
// character, is cut by TCP reads and by batch boundaries, and records that
// windows keep from earlier batches must still read right once those
// batches are gone.
namespace {
// Sends lines of `words` in reads of every size, now and then stopping
// mid-line until a batch closes; checks lines, word counts and windows.
void check_text_views_survive(const std::vector<std::string>& words, const std::string& line_end) {
  using TextCount = std::pair<trib::Text, int64_t>;
  testing::TcpServer server;
  trib::StreamingOptions opts;
  opts.partitions = 2;
  const auto interval = std::chrono::milliseconds(40);
  trib::StreamingContext ssc(interval, opts);
  auto lines = ssc.socketTextStream("127.0.0.1", server.port());
  auto raw = testing::collect(lines);
  auto pairs = lines.flatMap(trib::split_words).map([](trib::Text w) { return TextCount(w, 1); });
  auto counts = testing::collect(pairs.reduceByKey(std::plus<int64_t>()));
  auto windowed = testing::collect(
      pairs.reduceByKeyAndWindow(std::plus<int64_t>(), interval * 3, interval));
  auto window_lines = testing::collect(lines.window(interval * 3, interval));
  ssc.start();
  server.accept_client();

  std::mt19937 rng(23);
  Lines sent;
  for (int i = 0; i < 3000; ++i) {
    std::string line = "l" + std::to_string(i);
    for (int w = 0; w < 1 + i % 5; ++w) line += " " + words[(i * 7 + w) % words.size()];
    sent.push_back(line);
  }
  std::string bytes;
  for (auto& l : sent) bytes += l + line_end;
  std::uniform_int_distribution<std::size_t> small(1, 7), large(1, 5000);
  std::size_t pos = 0, pauses = 0;
  while (pos < bytes.size()) {
    std::size_t n = std::min((pos / 997) % 2 ? small(rng) : large(rng), bytes.size() - pos);
    server.send(bytes.substr(pos, n));
    pos += n;
    // Now and then stop mid-line (often mid-character) until a batch closes.
    if (pos < bytes.size() && bytes[pos - 1] != '\n' && rng() % 40 == 0) {
      std::size_t done = ssc.completedBatchCount();
      BOOST_REQUIRE(ssc.awaitBatches(done + 1, std::chrono::seconds(30)));
      ++pauses;
    }
  }
  wait_received(ssc, static_cast<int64_t>(sent.size()));
  std::size_t done = ssc.completedBatchCount();
  BOOST_REQUIRE(ssc.awaitBatches(done + 3, std::chrono::seconds(30)));  // windows drain
  ssc.stop(true);
  BOOST_TEST(pauses > 3u);

  auto raw_batches = raw->get();
  Lines received;
  for (auto& [t, rows] : raw_batches) received.insert(received.end(), rows.begin(), rows.end());
  BOOST_TEST((received == sent), "lines lost, changed or reordered");

  auto count_batches = counts->get();
  auto window_batches = windowed->get();
  auto window_line_batches = window_lines->get();
  BOOST_REQUIRE_EQUAL(count_batches.size(), raw_batches.size());
  BOOST_REQUIRE_EQUAL(window_batches.size(), raw_batches.size());
  BOOST_REQUIRE_EQUAL(window_line_batches.size(), raw_batches.size());
  for (std::size_t i = 0; i < raw_batches.size(); ++i) {
    BOOST_TEST((oracle::as_map(count_batches[i].second) == oracle::word_counts(raw_batches[i].second)),
               "batch " << i);
    Lines in_window;  // this batch and the two before it
    for (std::size_t j = i >= 2 ? i - 2 : 0; j <= i; ++j)
      in_window.insert(in_window.end(), raw_batches[j].second.begin(), raw_batches[j].second.end());
    BOOST_TEST((oracle::as_map(window_batches[i].second) == oracle::word_counts(in_window)),
               "window ending at batch " << i);
    BOOST_TEST((window_line_batches[i].second == in_window), "window of lines ending at batch " << i);
  }
}
}  // namespace

// Multi-byte characters, often cut apart by the reads.
BOOST_AUTO_TEST_CASE(text_views_survive_split_reads_batches_and_windows) {
  check_text_views_survive({"naïve", "日本語", "emoji😀", "plain", "Größe", "x"}, "\n");
}

// Plain ASCII ending in "\r\n". In both, the reader hands most reads over
// uncut (LineRun), the word count splits them as they lie, and the
// collected lines and windows cut them.
BOOST_AUTO_TEST_CASE(uncut_reads_survive_split_reads_batches_and_windows) {
  check_text_views_survive({"naive", "nihongo", "emoji", "plain", "Grosse", "x"}, "\r\n");
}

// A connection that breaks (RST) in the middle of a line: the half line is
// not a record, and the whole line the server sends again after the
// reconnect is one record, not the second half of two. (A clean close keeps
// an unterminated last line: reconnects_after_the_server_drops_the_connection.)
BOOST_AUTO_TEST_CASE(a_line_cut_by_a_broken_connection_is_not_split_into_two_records) {
  testing::TcpServer server;
  trib::StreamingContext ssc(std::chrono::milliseconds(50));
  WordCountJob job(ssc, "127.0.0.1", server.port());
  ssc.start();
  server.accept_client();
  server.send("first line\nsecond li");
  wait_received(ssc, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the half line is read too
  server.reset_client();
  server.accept_client();
  server.send("second line\nthird line\n");
  wait_received(ssc, 3);
  ssc.stop(true);
  job.check({"first line", "second line", "third line"});
}

// A server that stops sending without closing (hung, or a half-open TCP
// connection after its machine vanished) is given up on after the idle
// timeout and connected to again.
BOOST_AUTO_TEST_CASE(a_silent_server_is_reconnected_after_the_idle_timeout) {
  testing::TcpServer server;
  trib::StreamingContext ssc(std::chrono::milliseconds(50));
  trib::SocketOptions options;
  options.idle_timeout_ms = 400;
  auto lines = ssc.socketTextStream("127.0.0.1", server.port(), options);
  auto raw = testing::collect(lines);
  ssc.start();
  server.accept_client();
  server.send("before\n");
  wait_received(ssc, 1);
  // Nothing more on this connection: the receiver must come back on its own.
  BOOST_REQUIRE(server.try_accept_client(5000));
  server.send("after\n");
  wait_received(ssc, 2);
  ssc.stop(true);
  Lines got;
  for (auto& b : raw->get()) got.insert(got.end(), b.second.begin(), b.second.end());
  BOOST_TEST((got == Lines{"before", "after"}));
}

// A line over 1 MiB is cut and reported while the connection is still open,
// not only when it closes.
BOOST_AUTO_TEST_CASE(over_long_lines_are_reported_when_they_happen) {
  CapturedLog log;
  testing::TcpServer server;
  {
    trib::StreamingContext ssc(std::chrono::milliseconds(50));
    WordCountJob job(ssc, "127.0.0.1", server.port());
    ssc.start();
    server.accept_client();
    server.send(std::string(1536 * 1024, 'x') + "\nshort\n");
    bool reported = false;
    for (int i = 0; i < 500 && !reported; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      reported = log.text().find("cut 1 lines longer than 1024 KiB") != std::string::npos;
    }
    BOOST_TEST(reported, "reported with the connection open");
    ssc.stop(true);
  }
}

// A raised line limit (SocketOptions::max_line_bytes, ?max-line-kib=N):
// a 5 MiB line, longer than a read buffer, arrives in reads of up to 3,000
// bytes and comes out as one whole record; nothing is cut.
BOOST_AUTO_TEST_CASE(a_raised_line_limit_keeps_a_line_longer_than_a_read_buffer_whole) {
  CapturedLog log;
  trib::SocketOptions socket;
  socket.end_at_close = true;
  socket.max_line_bytes = std::size_t{8} << 20;
  std::string huge;
  for (int i = 0; huge.size() < (std::size_t{5} << 20); ++i) huge += "w" + std::to_string(i % 5000) + " ";
  Lines lines = make_lines(0, 300);
  lines.insert(lines.begin() + 150, huge);
  std::mt19937 rng(5);
  TextWordCount job(std::chrono::milliseconds(100), trib::StreamingOptions{}, socket);
  job.send_all_and_check(lines, rng);
  BOOST_TEST(log.text().find("lines longer than") == std::string::npos, log.text());
}

// A limit of 0 would cut every line to nothing, one past the largest is
// refused too: the job is not declared, and the error names the field.
BOOST_AUTO_TEST_CASE(an_unusable_line_limit_is_refused_naming_it) {
  trib::StreamingContext ssc(std::chrono::milliseconds(100));
  for (std::size_t limit : {std::size_t{0}, trib::SocketOptions::kMaxLineLimit + 1}) {
    trib::SocketOptions socket;
    socket.max_line_bytes = limit;
    try {
      ssc.socketTextStream("127.0.0.1", 9, socket);
      BOOST_FAIL("accepted max_line_bytes " << limit);
    } catch (const std::invalid_argument& e) {
      BOOST_TEST(std::string(e.what()) == "socketTextStream: max_line_bytes must be 1..268435456, got " +
                                              std::to_string(limit));
    }
  }
}

// A sender faster than the engine, with read buffers bounded: the receiver
// waits for batches to give buffers back, so TCP holds the sender back, and
// still every line arrives once, in order. Asked for 2 MiB, one buffer, the
// bound is raised to the floor of four for one receiver (the one it reads
// into could never come back, so one would stall it).
BOOST_AUTO_TEST_CASE(a_receiver_at_its_buffer_budget_holds_the_sender_back_and_loses_nothing) {
  CapturedLog log;
  testing::TcpServer server;
  trib::StreamingOptions opts;
  opts.partitions = 2;
  opts.receive_buffer_mb = 2;
  trib::StreamingContext ssc(std::chrono::milliseconds(50), opts);
  WordCountJob job(ssc, "127.0.0.1", server.port());
  std::size_t before = trib::receive_buffers_in_use();
  ssc.start();
  server.accept_client();
  Lines sent = make_lines(0, 300000);
  for (auto& l : sent) l.resize(120, 'x');  // 36 MB: four and a half bounds
  std::string bytes;
  for (auto& l : sent) bytes += l + "\n";
  std::thread sender([&] {
    for (std::size_t pos = 0; pos < bytes.size(); pos += 65536) server.send(bytes.substr(pos, 65536));
  });
  std::size_t most = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (ssc.receivedRecords() < static_cast<int64_t>(sent.size()) && std::chrono::steady_clock::now() < deadline) {
    most = std::max(most, trib::receive_buffers_in_use());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  sender.join();
  wait_received(ssc, static_cast<int64_t>(sent.size()));
  ssc.stop(true);
  job.check(sent);
  BOOST_TEST(most <= before + 4, "read buffers in use: " << most << " (bound: 4 beyond " << before << ")");
  BOOST_TEST(log.text().find("taking one more") == std::string::npos,
             "the receiver stalled at its bound until the 10 s escape");
}
