// Redis Streams source and Redis hash sink against a real redis-server the
// test starts on loopback (installed by dev.sh), including a restart of the
// server mid-stream and a restart of the job from its checkpoint.
#define BOOST_TEST_MODULE redis
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <hiredis/hiredis.h>

#include <filesystem>
#include <map>
#include <thread>

#include "io/redis.hpp"
#include "recovery/batch_positions_log.hpp"
#include "recovery/checkpoint.hpp"
#include "job_helpers.hpp"
#include "tcp_server.hpp"
#include "temp_dir.hpp"

namespace {

// A redis-server child process with its data in `dir` (append-only file,
// so a restarted server still has the stream).
class RedisServer {
 public:
  explicit RedisServer(std::string dir) : dir_(std::move(dir)), port_(testing::unused_port()) { start(); }
  ~RedisServer() { stop(); }

  void start() {
    pid_ = fork();
    if (pid_ == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execlp("redis-server", "redis-server", "--port", std::to_string(port_).c_str(), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "yes", "--dir", dir_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Ready once PING answers PONG: a restarted server accepts connections
    // while it still loads its append-only file, and answers -LOADING then.
    for (int i = 0; i < 200; ++i) {
      if (redisContext* c = redisConnect("127.0.0.1", port_); c && !c->err) {
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        bool ready = r && r->type == REDIS_REPLY_STATUS && std::string(r->str, r->len) == "PONG";
        if (r) freeReplyObject(r);
        redisFree(c);
        if (ready) return;
      } else if (c) {
        redisFree(c);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    BOOST_FAIL("redis-server did not start on port " << port_ << " (is it installed? ./dev.sh installs it)");
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  uint16_t port() const { return port_; }

  // SIGSTOP / SIGCONT: connections stay open and commands get no answer.
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

  // XADD key * line <text> for each line, with a real client.
  void add(const std::string& key, const std::vector<std::string>& lines) {
    redisContext* c = redisConnect("127.0.0.1", port_);
    BOOST_REQUIRE(c && !c->err);
    for (auto& l : lines) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "XADD %s * line %b", key.c_str(), l.data(), l.size()));
      BOOST_REQUIRE(r && r->type == REDIS_REPLY_STRING);
      freeReplyObject(r);
    }
    redisFree(c);
  }

  // Entries of the consumer group delivered but not acknowledged.
  long long pending(const std::string& key, const std::string& group) {
    redisContext* c = redisConnect("127.0.0.1", port_);
    auto* r = static_cast<redisReply*>(redisCommand(c, "XPENDING %s %s", key.c_str(), group.c_str()));
    long long n = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? r->element[0]->integer : -1;
    if (r) freeReplyObject(r);
    redisFree(c);
    return n;
  }

  std::map<std::string, std::string> hash(const std::string& key) {
    redisContext* c = redisConnect("127.0.0.1", port_);
    auto* r = static_cast<redisReply*>(redisCommand(c, "HGETALL %s", key.c_str()));
    std::map<std::string, std::string> out;
    for (size_t i = 0; r && i + 1 < r->elements; i += 2)
      out[std::string(r->element[i]->str, r->element[i]->len)] = std::string(r->element[i + 1]->str, r->element[i + 1]->len);
    if (r) freeReplyObject(r);
    redisFree(c);
    return out;
  }

 private:
  std::string dir_;
  uint16_t port_;
  pid_t pid_ = -1;
};

std::vector<std::string> lines_from(int first, int n) {
  std::vector<std::string> lines;
  for (int i = first; i < first + n; ++i) lines.push_back("entry " + std::to_string(i));
  return lines;
}

std::vector<std::string> all_records(const testing::Collector<std::string>& c) {
  std::vector<std::string> out;
  for (auto& [t, rows] : c.get()) out.insert(out.end(), rows.begin(), rows.end());
  return out;
}

void wait_for(const testing::Collector<std::string>& c, std::size_t n) {
  testing::eventually([&] { return all_records(c).size() >= n; });
}

}  // namespace

BOOST_AUTO_TEST_CASE(entries_are_read_once_in_order_across_a_server_restart) {
  testing::TempDir dir;
  RedisServer redis(dir.path);
  redis.add("events", lines_from(0, 500));  // before the job starts
  trib::StreamingOptions opts;
  opts.partitions = 3;
  trib::StreamingContext ssc(std::chrono::milliseconds(50), opts);
  trib::RedisStreamOptions ro;
  ro.max_records_per_batch = 120;  // a backlog spreads over batches
  auto records = testing::collect(trib::redisStream(ssc, "127.0.0.1", redis.port(), "events", ro));
  ssc.start();
  redis.add("events", lines_from(500, 300));  // while it runs
  wait_for(*records, 800);
  redis.stop();  // down mid-stream: batches run empty, nothing moves
  BOOST_REQUIRE(ssc.awaitBatches(ssc.completedBatchCount() + 4, std::chrono::seconds(30)));
  redis.start();  // same port, same data
  redis.add("events", lines_from(800, 200));
  wait_for(*records, 1000);
  ssc.stop(true);
  BOOST_TEST(all_records(*records) == lines_from(0, 1000), "every entry once, in stream order");
  for (auto& [t, rows] : records->get()) BOOST_TEST(rows.size() <= 120u);
  // Read through the consumer group, and every completed batch acknowledged.
  BOOST_TEST(redis.pending("events", "tributary") == 0);
}

BOOST_AUTO_TEST_CASE(a_restarted_job_resumes_after_its_checkpointed_position) {
  testing::TempDir dir, ckpt;
  RedisServer redis(dir.path);
  redis.add("events", lines_from(0, 300));
  auto run = [&](std::size_t expect) {
    std::shared_ptr<testing::Collector<std::string>> records;
    auto ssc = trib::StreamingContext::getOrCreate(ckpt.path, [&] {
      auto s = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(40));
      records = testing::collect(trib::redisStream(*s, "127.0.0.1", redis.port(), "events"));
      return s;
    });
    ssc->start();
    wait_for(*records, expect);
    BOOST_REQUIRE(ssc->awaitBatches(ssc->completedBatchCount() + 2, std::chrono::seconds(30)));
    ssc->stop(false);  // not graceful: as good as a crash after the last checkpoint
    return all_records(*records);
  };
  BOOST_TEST(run(300) == lines_from(0, 300));
  redis.add("events", lines_from(300, 150));
  BOOST_TEST(run(150) == lines_from(300, 150), "only the entries after the checkpoint");
  redis.add("events", lines_from(450, 50));
  BOOST_TEST(run(50) == lines_from(450, 50));
}

BOOST_AUTO_TEST_CASE(the_hash_sink_writes_each_batch_once_and_idempotently) {
  testing::TempDir dir;
  RedisServer redis(dir.path);
  trib::StreamingContext ssc(std::chrono::milliseconds(30));
  auto queue = std::make_shared<trib::BatchQueue<std::pair<std::string, int64_t>>>();
  queue->push({{"a", 1}, {"b", 2}});
  queue->push({{"c", 3}});
  auto stream = ssc.queueStream(queue);
  stream.foreachRDD(trib::RedisHashSink("127.0.0.1", redis.port(), "counts"));
  auto times = testing::collect(stream);
  testing::run_batches(ssc, 2);
  auto batches = times->get();
  for (std::size_t i = 0; i < 2; ++i) {
    std::map<std::string, std::string> want;
    for (auto& [k, v] : batches[i].second) want[k] = std::to_string(v);
    std::string key = "counts:" + std::to_string(batches[i].first);
    BOOST_TEST((redis.hash(key) == want), key);
    // Writing the batch again (a re-run after a restart) changes nothing.
    trib::RedisConnection conn("127.0.0.1", redis.port());
    std::vector<std::pair<std::string, std::string>> fields(want.begin(), want.end());
    trib::write_redis_hash(conn, "counts", batches[i].first, fields);
    BOOST_TEST((redis.hash(key) == want));
  }
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_is_a_clear_error) {
  uint16_t nobody = testing::unused_port();
  BOOST_CHECK_EXCEPTION(trib::RedisConnection("127.0.0.1", nobody), std::runtime_error,
                        [&](const std::runtime_error& e) {
                          return std::string(e.what()).find("redis 127.0.0.1:" + std::to_string(nobody)) == 0;
                        });
}

BOOST_AUTO_TEST_CASE(entries_read_but_not_checkpointed_are_read_again_after_a_restart) {
  testing::TempDir dir;
  RedisServer redis(dir.path);
  redis.add("events", lines_from(0, 10));
  auto read = [](trib::RedisStreamSource& source) {
    trib::Dataset parts;
    source.poll(0, parts);
    std::vector<std::string> rows;
    for (auto& p : parts) rows.insert(rows.end(), p.rows<trib::Text>().begin(), p.rows<trib::Text>().end());
    return rows;
  };
  trib::RedisStreamOptions opts;
  opts.max_records_per_batch = 4;
  trib::RedisStreamSource first("127.0.0.1", redis.port(), "events", opts, 2);
  BOOST_TEST(read(first) == lines_from(0, 4));
  std::string checkpointed = first.position();  // a checkpoint after the first batch
  BOOST_TEST(read(first) == lines_from(4, 4));   // delivered, then the process dies
  // The restarted job: back to the checkpointed ID; the delivered-but-lost
  // entries come again (they are still pending in the group), then new ones.
  trib::RedisStreamSource restarted("127.0.0.1", redis.port(), "events", opts, 2);
  restarted.seek(checkpointed);
  BOOST_TEST(read(restarted) == lines_from(4, 4));
  BOOST_TEST(read(restarted) == lines_from(8, 2));
  restarted.committed(restarted.position());
  BOOST_TEST(redis.pending("events", "tributary") == 0, "the first 4 acknowledged at reconnect, the rest now");
}

// The sink's server goes down mid-stream and comes back: the job does not
// fail, the batch whose write failed is written once the server is back,
// and every batch after it is in Redis exactly as the batch holds it.
BOOST_AUTO_TEST_CASE(a_sink_outage_is_retried_and_the_job_goes_on) {
  testing::TempDir dir;
  RedisServer redis(dir.path);
  trib::StreamingContext ssc(std::chrono::milliseconds(50));
  auto queue = std::make_shared<trib::BatchQueue<std::pair<std::string, int64_t>>>();
  auto stream = ssc.queueStream(queue);
  stream.foreachRDD(trib::RedisHashSink("127.0.0.1", redis.port(), "counts"));
  auto batches = testing::collect(stream);
  ssc.start();
  BOOST_REQUIRE(ssc.awaitBatches(3, std::chrono::seconds(30)));
  redis.stop();
  queue->push({{"during", 1}, {"outage", 2}});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // writes fail and are retried
  redis.start();
  queue->push({{"after", 3}});
  // The batches held up by the outage complete first; wait for the sink to
  // have written the one holding "after" (a count of batches would race it).
  auto written = [&] {
    for (auto& [t, rows] : batches->get())
      for (auto& kv : rows)
        if (kv.first == "after") return redis.hash("counts:" + std::to_string(t)).count("after") > 0;
    return false;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!written() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ssc.stop(true);
  BOOST_CHECK_NO_THROW(ssc.awaitTermination());
  bool saw_outage_batch = false, saw_after = false;
  for (auto& [t, rows] : batches->get()) {
    std::map<std::string, std::string> want;
    for (auto& [k, v] : rows) want[k] = std::to_string(v);
    if (want.count("during")) saw_outage_batch = true;
    if (want.count("after")) saw_after = true;
    // Batches before the outage may be lost with the killed server's last
    // second of its append-only file; from the outage's batch on, all are there.
    if (saw_outage_batch) BOOST_TEST((redis.hash("counts:" + std::to_string(t)) == want), "batch " << t);
  }
  BOOST_TEST(saw_outage_batch);
  BOOST_TEST(saw_after);
}

// The source is read on a thread of its own: a server that stops answering
// (connections open, no reply: SIGSTOP) delays the stream's batches but not
// the coordinator, which still obeys a stop while a read hangs.
BOOST_AUTO_TEST_CASE(a_stalled_server_does_not_stall_the_coordinator) {
  testing::TempDir dir;
  RedisServer redis(dir.path);
  redis.add("events", lines_from(0, 10));
  trib::StreamingContext ssc(std::chrono::milliseconds(50));
  trib::RedisStreamOptions ro;
  ro.timeout_ms = 120000;  // a read waits for as long as the server is stopped
  auto records = testing::collect(trib::redisStream(ssc, "127.0.0.1", redis.port(), "events", ro));
  ssc.start();
  wait_for(*records, 10);
  redis.pause();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a read is under way, and hangs
  std::thread stopper([&] { ssc.stop(false); });  // returns once the hung read is over
  bool ended = ssc.awaitTerminationOrTimeout(std::chrono::seconds(30));
  redis.resume();
  stopper.join();
  BOOST_TEST(ended, "the coordinator did not end the job while a Redis read hung");
  BOOST_TEST(all_records(*records) == lines_from(0, 10));
}

// Exactly once across a restart from an OLDER checkpoint (a later one lost:
// unreadable, or never written after its batch's output was published)
// while Redis is down: the batches the restored checkpoint does not cover
// are formed again from exactly the entries they held the first time (the
// batch positions log), waiting for the server rather than running empty
// or with another count of entries. Before the fix they ran empty while the
// server was down, and counts of a running total fell.
BOOST_AUTO_TEST_CASE(batches_formed_again_after_a_restart_hold_the_same_entries_while_redis_is_down) {
  testing::TempDir dir, ckpt;
  RedisServer redis(dir.path);
  redis.add("events", lines_from(0, 400));
  trib::RedisStreamOptions ro;
  ro.max_records_per_batch = 20;  // a backlog: many batches, each with 20 entries
  using Batches = std::vector<std::pair<int64_t, std::vector<std::string>>>;
  auto run = [&](auto&& until) {
    std::shared_ptr<testing::Collector<std::string>> records;
    auto ssc = trib::StreamingContext::getOrCreate(ckpt.path, [&] {
      auto s = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(40));
      records = testing::collect(trib::redisStream(*s, "127.0.0.1", redis.port(), "events", ro));
      return s;
    });
    ssc->start();
    until(*records);
    ssc->stop(false);  // as good as a crash
    return records->get();
  };
  Batches first = run([&](auto& r) { wait_for(r, 200); });
  // The newest two checkpoints are lost: the restart falls back to an older
  // one, so batches whose output was published are computed again.
  trib::CheckpointStore store(ckpt.path);
  auto files = store.files();
  BOOST_REQUIRE(files.size() >= 3);
  std::filesystem::remove(files[0]);
  std::filesystem::remove(files[1]);
  int64_t restored = trib::CheckpointStore::read_file(files[2]).last_batch_time_ms;
  std::map<int64_t, std::vector<std::string>> first_by_time(first.begin(), first.end());
  std::size_t recomputed = 0;
  for (auto& [t, rows] : first)
    if (t > restored && !rows.empty()) ++recomputed;
  BOOST_REQUIRE_MESSAGE(recomputed >= 2, "batches with entries after the restored checkpoint: " << recomputed);

  redis.stop();  // down while the job restarts
  std::thread back([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    redis.start();
  });
  std::vector<std::string> before;  // entries of the batches the restored checkpoint covers
  for (auto& [t, rows] : first)
    if (t <= restored) before.insert(before.end(), rows.begin(), rows.end());
  Batches second = run([&](auto& r) { wait_for(r, 400 - before.size()); });
  back.join();

  // Every batch computed in both runs holds the same entries, in the same order.
  std::size_t compared = 0;
  for (auto& [t, rows] : second) {
    auto it = first_by_time.find(t);
    if (it == first_by_time.end()) continue;
    BOOST_TEST(rows == it->second, "batch " << t << " formed again with " << rows.size() << " entries, "
                                            << it->second.size() << " the first time");
    ++compared;
  }
  BOOST_TEST(compared >= recomputed);
  // The recomputed batches come first, right after the restored checkpoint.
  BOOST_REQUIRE(!second.empty());
  BOOST_TEST(second.front().first == restored + 40);
  // A running count (the oracle: the entries of the stream, in order) never
  // falls, and the published output (run 1's batches, then run 2's later
  // ones: the sink keeps the first output of a batch) holds every entry once.
  std::vector<std::string> published;
  int64_t last_first = first.back().first;
  for (auto& [t, rows] : first) published.insert(published.end(), rows.begin(), rows.end());
  for (auto& [t, rows] : second)
    if (t > last_first) published.insert(published.end(), rows.begin(), rows.end());
  BOOST_TEST(published == lines_from(0, 400), "every entry once, in stream order");
  std::vector<std::string> recomputed_all = before;
  for (auto& [t, rows] : second) recomputed_all.insert(recomputed_all.end(), rows.begin(), rows.end());
  BOOST_TEST(recomputed_all == lines_from(0, 400));
  BOOST_TEST(trib::BatchPositionsLog::read(ckpt.path).size() >= 1u);
}

// A batch formed again waits for Redis, but the job still obeys a stop at once.
BOOST_AUTO_TEST_CASE(a_job_waiting_for_redis_to_form_a_logged_batch_again_still_stops) {
  testing::TempDir dir, ckpt;
  RedisServer redis(dir.path);
  redis.add("events", lines_from(0, 200));
  trib::RedisStreamOptions ro;
  ro.max_records_per_batch = 20;
  auto context = [&] {
    return trib::StreamingContext::getOrCreate(ckpt.path, [&] {
      auto s = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(40));
      trib::redisStream(*s, "127.0.0.1", redis.port(), "events", ro).foreachRDD([](const std::vector<trib::Text>&, int64_t) {});
      return s;
    });
  };
  {
    auto ssc = context();
    ssc->start();
    BOOST_REQUIRE(ssc->awaitBatches(6, std::chrono::seconds(30)));
    ssc->stop(false);
  }
  trib::CheckpointStore store(ckpt.path);
  auto files = store.files();
  BOOST_REQUIRE(files.size() >= 3);
  std::filesystem::remove(files[0]);
  std::filesystem::remove(files[1]);
  redis.stop();
  auto ssc = context();
  ssc->start();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  BOOST_TEST(ssc->completedBatchCount() == 0, "no batch runs before its logged entries are read");
  auto started = std::chrono::steady_clock::now();
  ssc->stop(false);
  BOOST_TEST(ssc->awaitTerminationOrTimeout(std::chrono::seconds(10)));
  BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(5)), "the stop waited for Redis");
}
