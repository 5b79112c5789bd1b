// Redis Streams as a source, and a Redis hash per batch as a sink.
//
// RedisStreamSource is a "direct" source, like Spark's direct Kafka stream:
// no receiver; when an interval closes it reads the stream entries after
// its position (XREAD, at most max_records_per_batch) and the batch's last
// entry ID becomes its position. The position is in every checkpoint, so a
// restarted job re-reads exactly the entries after the last checkpointed
// batch: exactly-once without a write-ahead log. (Positions live in the
// checkpoint rather than in a consumer group: the checkpoint must be the
// one source of truth, or a crash between the two would lose or repeat
// entries.) If Redis is unreachable the batch is empty, the position does
// not move, one warning names the server and the error, and later polls
// retry with backoff (100 ms up to 5 s).
//
// RedisHashSink writes each batch's (key, value) pairs to the hash
// <prefix>:<batch time ms> in one MULTI/EXEC (delete, then set), so writing
// a batch again after a restart leaves the same hash: idempotent.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dstream/format.hpp"
#include "dstream/graph.hpp"

struct redisContext;

namespace trib {

// One connection; commands return errors as exceptions naming the server.
class RedisConnection {
 public:
  RedisConnection(std::string host, uint16_t port);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Runs a command given as separate arguments; returns the raw reply
  // flattened to strings for arrays of bulk strings (see redis.cpp).
  struct Reply;
  std::unique_ptr<Reply> command(const std::vector<std::string>& args);

  // XREAD COUNT n STREAMS key after -> (id, field value) pairs.
  std::vector<std::pair<std::string, std::string>> read_stream(const std::string& key,
                                                               const std::string& after,
                                                               const std::string& field,
                                                               int64_t count);
  std::string where() const { return host_ + ":" + std::to_string(port_); }

 private:
  std::string host_;
  uint16_t port_;
  redisContext* ctx_ = nullptr;
};

struct RedisStreamOptions {
  std::string field = "line";           // the entry field that holds the record
  int64_t max_records_per_batch = 100000;
  std::string start_after = "0-0";      // read the stream from its start
};

class RedisStreamSource : public SourceNode {
 public:
  RedisStreamSource(std::string host, uint16_t port, std::string key, RedisStreamOptions opts,
                    int partitions);
  ~RedisStreamSource() override;

  bool has_receiver() const override { return false; }
  bool poll(int64_t t, Dataset& out) override;
  std::string position() const override { return last_id_; }
  void seek(const std::string& position) override { last_id_ = position; }

 private:
  std::string host_;
  uint16_t port_;
  std::string key_;
  RedisStreamOptions opts_;
  int partitions_;
  std::string last_id_;
  std::unique_ptr<RedisConnection> conn_;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{100};
  bool warned_ = false;
};

// Writes one batch: hash <prefix>:<batch_time_ms> := fields.
void write_redis_hash(RedisConnection& conn, const std::string& prefix, int64_t batch_time_ms,
                      const std::vector<std::pair<std::string, std::string>>& fields);

// For foreachRDD on a DStream<pair<K, V>>: rdd.foreachRDD(RedisHashSink(host, port, prefix)).
class RedisHashSink {
 public:
  RedisHashSink(std::string host, uint16_t port, std::string prefix)
      : host_(std::move(host)), port_(port), prefix_(std::move(prefix)) {}

  template <class K, class V>
  void operator()(const std::vector<std::pair<K, V>>& rows, int64_t batch_time_ms) const {
    std::vector<std::pair<std::string, std::string>> fields;
    fields.reserve(rows.size());
    for (const auto& [k, v] : rows) fields.emplace_back(format_value(k), format_value(v));
    RedisConnection conn(host_, port_);
    write_redis_hash(conn, prefix_, batch_time_ms, fields);
  }

 private:
  std::string host_;
  uint16_t port_;
  std::string prefix_;
};

}  // namespace trib
