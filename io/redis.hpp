// Redis Streams as a source, and a Redis hash per batch as a sink.
//
// RedisStreamSource is a "direct" source, like Spark's direct Kafka stream:
// no receiver; when an interval closes it reads new entries through a
// consumer group (XREADGROUP ">", at most max_records_per_batch) and the
// batch's last entry ID becomes its position. The position is in every
// checkpoint; entries are acknowledged (XACK) only once a checkpoint covers
// them (or, without checkpoints, once their batch completed). After a
// restart the source first re-reads its own pending entries after the
// checkpointed ID (XREADGROUP with that ID), acknowledges the ones before
// it, then goes on with new entries: exactly once, without a write-ahead
// log. If Redis is unreachable the batch is empty, the position does not
// move, one warning names the server and the error, and later polls retry
// with backoff (100 ms up to 5 s); after reconnecting it re-reads pending
// entries too, in case a reply was lost with the connection.
// With checkpoints the runtime logs each batch's range of IDs before the
// batch runs (recovery/batch_positions_log.hpp); batches formed again after
// a restart read exactly their logged range of pending entries
// (poll_until), waiting for the server rather than running with other data.
//
// RedisHashSink writes each batch's (key, value) pairs to the hash
// <prefix>:<batch time ms> in one MULTI/EXEC (delete, then set), so writing
// a batch again after a restart leaves the same hash: idempotent. A write
// that fails because the server is unreachable, went away or is still
// loading its data is tried again with backoff (100 ms up to 5 s; the batch's
// output waits) for up to give_up_after; a transaction cut short is never
// applied (Redis drops a MULTI whose connection closes), so the retry
// leaves the same hash as one clean write.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dstream/core/backoff.hpp"
#include "dstream/core/format.hpp"
#include "dstream/core/graph.hpp"
#include "dstream/core/text.hpp"

struct redisContext;

namespace trib {

// The server cannot be reached, the connection broke, or it is loading its
// data: it may be back soon. Other errors (a wrong type, a bad command) are
// plain std::runtime_error.
class RedisUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One connection; commands return errors as exceptions naming the server.
class RedisConnection {
 public:
  // Connecting, and each command, fail after `timeout_ms` without an answer.
  RedisConnection(std::string host, uint16_t port, int64_t timeout_ms = 2000);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Runs a command given as separate arguments; returns the raw reply
  // flattened to strings for arrays of bulk strings (see redis.cpp).
  struct Reply;
  std::unique_ptr<Reply> command(const std::vector<std::string>& args);

  // XREADGROUP GROUP g c COUNT n STREAMS key id -> (id, field value) pairs;
  // id ">" for new entries, or an ID for this consumer's pending ones after it.
  std::vector<std::pair<std::string, std::string>> read_group(const std::string& key,
                                                              const std::string& group,
                                                              const std::string& consumer,
                                                              const std::string& id,
                                                              const std::string& field, int64_t count);
  // This consumer's pending entry IDs up to and including `upto`.
  std::vector<std::string> pending_upto(const std::string& key, const std::string& group,
                                        const std::string& consumer, const std::string& upto);
  std::string where() const { return host_ + ":" + std::to_string(port_); }

 private:
  std::string host_;
  uint16_t port_;
  redisContext* ctx_ = nullptr;
};

struct RedisStreamOptions {
  std::string field = "line";           // the entry field that holds the record
  int64_t max_records_per_batch = 100000;
  std::string start_after = "0-0";      // a new group reads the stream from its start
  std::string group = "tributary";
  std::string consumer = "tributary";
  // A read that has no answer this long fails (the batch runs without it and
  // the source reconnects with backoff). The read runs on a thread of its
  // own: a slow server delays this stream's batches, not the coordinator.
  int64_t timeout_ms = 2000;
  // A batch formed again after a restart (poll_until) waits for the server
  // this long at most, then the job fails.
  std::chrono::milliseconds replay_give_up_after = std::chrono::minutes(10);
};

class RedisStreamSource : public SourceNode {
 public:
  RedisStreamSource(std::string host, uint16_t port, std::string key, RedisStreamOptions opts,
                    int partitions);
  ~RedisStreamSource() override;

  bool poll(int64_t t, Dataset& out) override;
  // Exactly this consumer's pending entries after position() up to and
  // including `end_position` (a batch formed again after a restart); while
  // the server is unreachable it throws SourceWaiting with the next backoff
  // (100 ms up to 5 s) and is called again: the batch waits, for up to
  // replay_give_up_after.
  bool exact_replay() const override { return true; }
  bool poll_until(int64_t t, const std::string& end_position, Dataset& out) override;
  bool blocking() const override { return true; }
  std::string position() const override { return last_id_; }
  void seek(const std::string& position) override;
  void committed(const std::string& position) override;

 private:
  void connect();  // a new connection, the group made, old pending entries acknowledged

  std::string host_;
  uint16_t port_;
  std::string key_;
  RedisStreamOptions opts_;
  int partitions_;
  std::string last_id_;
  bool replay_pending_ = true;   // re-read own pending entries after last_id_ first
  std::string ack_upto_;         // pending entries up to here are done (after a restart)
  std::vector<std::string> delivered_;  // IDs read but not yet acknowledged, in order
  std::unique_ptr<RedisConnection> conn_;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::steady_clock::time_point replay_waiting_since_{};  // poll_until waits for the server
  Backoff backoff_;  // between reconnects
  bool warned_ = false;
};

// Entries of a Redis stream as a DStream<Text>, exactly once with
// checkpoints (Spark's KafkaUtils.createDirectStream(ssc, ...)):
//   auto lines = trib::redisStream(ssc, "127.0.0.1", 6379, "events");
// `ssc` is a trib::StreamingContext; a template only so that io/ does not
// include the API layer (dstream/streaming_context.hpp).
template <class Context>
auto redisStream(Context& ssc, const std::string& host, uint16_t port, const std::string& key,
                 const RedisStreamOptions& options = {}) {
  return ssc.template sourceStream<Text>(
      std::make_shared<RedisStreamSource>(host, port, key, options, ssc.partitions()));
}

// Writes one batch: hash <prefix>:<batch_time_ms> := fields.
void write_redis_hash(RedisConnection& conn, const std::string& prefix, int64_t batch_time_ms,
                      const std::vector<std::pair<std::string, std::string>>& fields);

struct RedisSinkOptions {
  // An outage longer than this fails the job (with the last error).
  std::chrono::milliseconds give_up_after = std::chrono::minutes(10);
};

// write_redis_hash on a new connection, tried again while the server is
// unavailable (RedisUnavailable), as RedisHashSink does.
void write_redis_hash_retrying(const std::string& host, uint16_t port, const std::string& prefix,
                               int64_t batch_time_ms,
                               const std::vector<std::pair<std::string, std::string>>& fields,
                               const RedisSinkOptions& options);

// For foreachRDD on a DStream<pair<K, V>>: rdd.foreachRDD(RedisHashSink(host, port, prefix)).
class RedisHashSink {
 public:
  RedisHashSink(std::string host, uint16_t port, std::string prefix, RedisSinkOptions options = {})
      : host_(std::move(host)), port_(port), prefix_(std::move(prefix)), options_(options) {}

  template <class K, class V>
  void operator()(const std::vector<std::pair<K, V>>& rows, int64_t batch_time_ms) const {
    std::vector<std::pair<std::string, std::string>> fields;
    fields.reserve(rows.size());
    for (const auto& [k, v] : rows) fields.emplace_back(format_value(k), format_value(v));
    write_redis_hash_retrying(host_, port_, prefix_, batch_time_ms, fields, options_);
  }

 private:
  std::string host_;
  uint16_t port_;
  std::string prefix_;
  RedisSinkOptions options_;
};

}  // namespace trib
