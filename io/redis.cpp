#include "io/redis.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

#include "dstream/core/text_block.hpp"

namespace trib {

struct RedisConnection::Reply {
  explicit Reply(redisReply* r) : raw(r) {}
  ~Reply() {
    if (raw) freeReplyObject(raw);
  }
  redisReply* raw;
};

RedisConnection::RedisConnection(std::string host, uint16_t port, int64_t timeout_ms)
    : host_(std::move(host)), port_(port) {
  timeval timeout{static_cast<time_t>(timeout_ms / 1000), static_cast<suseconds_t>(timeout_ms % 1000 * 1000)};
  ctx_ = redisConnectWithTimeout(host_.c_str(), port_, timeout);
  if (!ctx_ || ctx_->err) {
    std::string why = ctx_ ? ctx_->errstr : "cannot allocate a connection";
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
    throw RedisUnavailable("redis " + where() + ": " + why);
  }
  redisSetTimeout(ctx_, timeout);
}

RedisConnection::~RedisConnection() {
  if (ctx_) redisFree(ctx_);
}

std::unique_ptr<RedisConnection::Reply> RedisConnection::command(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data()));
  if (!r) throw RedisUnavailable("redis " + where() + ": " + args[0] + " failed: " + ctx_->errstr);
  auto reply = std::make_unique<Reply>(r);
  if (r->type == REDIS_REPLY_ERROR) {
    std::string what = "redis " + where() + ": " + args[0] + ": " + std::string(r->str, r->len);
    // A restarted server answers -LOADING until its data is back.
    if (std::string(r->str, r->len).rfind("LOADING", 0) == 0) throw RedisUnavailable(what);
    throw std::runtime_error(what);
  }
  return reply;
}

std::vector<std::pair<std::string, std::string>> RedisConnection::read_group(
    const std::string& key, const std::string& group, const std::string& consumer,
    const std::string& id, const std::string& field, int64_t count) {
  auto reply = command({"XREADGROUP", "GROUP", group, consumer, "COUNT", std::to_string(count),
                        "STREAMS", key, id});
  std::vector<std::pair<std::string, std::string>> entries;
  redisReply* r = reply->raw;
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return entries;  // nil: nothing new
  redisReply* items = r->element[0]->element[1];  // [[key, [entries]]]
  for (size_t i = 0; i < items->elements; ++i) {
    redisReply* entry = items->element[i];        // [id, [f1, v1, ...]] (fields nil if deleted)
    std::string entry_id(entry->element[0]->str, entry->element[0]->len);
    redisReply* kv = entry->element[1];
    std::string value;
    for (size_t j = 0; kv->type == REDIS_REPLY_ARRAY && j + 1 < kv->elements; j += 2)
      if (std::string(kv->element[j]->str, kv->element[j]->len) == field)
        value.assign(kv->element[j + 1]->str, kv->element[j + 1]->len);
    entries.emplace_back(std::move(entry_id), std::move(value));
  }
  return entries;
}

std::vector<std::string> RedisConnection::pending_upto(const std::string& key, const std::string& group,
                                                       const std::string& consumer, const std::string& upto) {
  auto reply = command({"XPENDING", key, group, "-", upto, "100000", consumer});
  std::vector<std::string> ids;
  for (size_t i = 0; reply->raw->type == REDIS_REPLY_ARRAY && i < reply->raw->elements; ++i) {
    redisReply* e = reply->raw->element[i]->element[0];
    ids.emplace_back(e->str, e->len);
  }
  return ids;
}

namespace {

// "1700000000000-3" -> (ms, seq), for ordering stream IDs.
std::pair<uint64_t, uint64_t> parse_id(const std::string& id) {
  auto dash = id.find('-');
  return {std::stoull(id.substr(0, dash)), dash == std::string::npos ? 0 : std::stoull(id.substr(dash + 1))};
}

void acknowledge(RedisConnection& conn, const std::string& key, const std::string& group,
                 const std::vector<std::string>& ids) {
  for (std::size_t i = 0; i < ids.size(); i += 1000) {
    std::vector<std::string> cmd{"XACK", key, group};
    for (std::size_t j = i; j < std::min(ids.size(), i + 1000); ++j) cmd.push_back(ids[j]);
    conn.command(cmd);
  }
}

}  // namespace

RedisStreamSource::RedisStreamSource(std::string host, uint16_t port, std::string key,
                                     RedisStreamOptions opts, int partitions)
    : host_(std::move(host)), port_(port), key_(std::move(key)), opts_(std::move(opts)),
      partitions_(partitions), last_id_(opts_.start_after) {
  name = "redisStream";
  if (opts_.max_records_per_batch <= 0)
    throw std::invalid_argument("redisStream: max_records_per_batch must be positive");
}

RedisStreamSource::~RedisStreamSource() = default;

void RedisStreamSource::connect() {
  conn_.reset();
  auto conn = std::make_unique<RedisConnection>(host_, port_, opts_.timeout_ms);
  try {
    conn->command({"XGROUP", "CREATE", key_, opts_.group, opts_.start_after, "MKSTREAM"});
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find("BUSYGROUP") == std::string::npos) throw;
  }
  replay_pending_ = true;  // a reply may have been lost with the old connection
  if (!ack_upto_.empty()) {  // done before a restart, never acknowledged
    acknowledge(*conn, key_, opts_.group, conn->pending_upto(key_, opts_.group, opts_.consumer, ack_upto_));
    ack_upto_.clear();
  }
  conn_ = std::move(conn);
}

bool RedisStreamSource::poll_until(int64_t t, const std::string& end_position, Dataset& out) {
  std::vector<std::string> records;
  auto upto = parse_id(end_position);
  std::string from = last_id_;
  std::size_t delivered_before = delivered_.size();
  auto now = std::chrono::steady_clock::now();
  if (replay_waiting_since_ == std::chrono::steady_clock::time_point{}) replay_waiting_since_ = now;
  try {
    while (parse_id(last_id_) < upto) {
      if (!conn_) connect();
      // This consumer's pending entries after last_id_: delivered to it
      // the first time, and not acknowledged (no kept checkpoint covers them).
      auto entries = conn_->read_group(key_, opts_.group, opts_.consumer, last_id_, opts_.field,
                                       opts_.max_records_per_batch);
      std::size_t taken = 0;
      for (auto& [id, value] : entries) {
        if (parse_id(id) > upto) break;
        records.push_back(std::move(value));
        delivered_.push_back(id);
        last_id_ = id;
        ++taken;
      }
      if (taken == 0)
        throw std::runtime_error("redis " + conn_->where() + ": stream " + key_ + " has no pending entries of group " +
                                 opts_.group + ", consumer " + opts_.consumer + " after " + last_id_ + " up to " +
                                 end_position + ", which batch " + std::to_string(t) +
                                 " held the first time: it cannot be computed again with the same input");
    }
  } catch (const RedisUnavailable& e) {
    // Nothing of this call is kept: the pending entries are read again next time.
    conn_.reset();
    last_id_ = from;
    delivered_.resize(delivered_before);
    if (now - replay_waiting_since_ + backoff_.current() > opts_.replay_give_up_after)
      throw std::runtime_error(std::string(e.what()) + "; gave up forming batch " + std::to_string(t) +
                               " again from its logged entries up to " + end_position);
    if (!warned_)
      spdlog::warn("{}; batch {} waits for its logged entries up to {} (stream {} at {}), retrying with backoff",
                   e.what(), t, end_position, key_, last_id_);
    warned_ = true;
    throw SourceWaiting(e.what(), backoff_.take());
  }
  if (warned_) spdlog::info("redis {}:{}: formed batch {} again up to {}", host_, port_, t, end_position);
  warned_ = false;
  backoff_.reset();
  retry_at_ = {};
  replay_waiting_since_ = {};
  out = split_text_into_partitions(std::move(records), partitions_);
  return true;
}

bool RedisStreamSource::poll(int64_t, Dataset& out) {
  std::vector<std::string> records;
  auto now = std::chrono::steady_clock::now();
  if (now >= retry_at_) {
    try {
      if (!conn_) connect();
      auto entries = conn_->read_group(key_, opts_.group, opts_.consumer,
                                       replay_pending_ ? last_id_ : ">", opts_.field,
                                       opts_.max_records_per_batch);
      if (replay_pending_ && entries.empty()) {
        replay_pending_ = false;
        entries = conn_->read_group(key_, opts_.group, opts_.consumer, ">", opts_.field,
                                    opts_.max_records_per_batch);
      }
      for (auto& [id, value] : entries) {
        records.push_back(std::move(value));
        delivered_.push_back(id);
        last_id_ = id;
      }
      if (warned_) spdlog::info("redis {}:{}: reading stream {} again", host_, port_, key_);
      warned_ = false;
      backoff_.reset();
    } catch (const std::exception& e) {
      // Nothing of this poll is kept: the position stays where it was.
      records.clear();
      conn_.reset();
      if (!warned_)
        spdlog::warn("{}; retrying with backoff (stream {} stays at {})", e.what(), key_, last_id_);
      warned_ = true;
      retry_at_ = now + backoff_.take();
    }
  }
  out = split_text_into_partitions(std::move(records), partitions_);
  return true;
}

void RedisStreamSource::seek(const std::string& position) {
  last_id_ = position;
  ack_upto_ = position;
  replay_pending_ = true;
  delivered_.clear();
}

void RedisStreamSource::committed(const std::string& position) {
  if (!conn_) return;  // acknowledged after reconnecting (see poll)
  auto upto = parse_id(position);
  std::size_t n = 0;
  while (n < delivered_.size() && parse_id(delivered_[n]) <= upto) ++n;
  if (n == 0) return;
  std::vector<std::string> done(delivered_.begin(), delivered_.begin() + n);
  acknowledge(*conn_, key_, opts_.group, done);  // throws: stays in delivered_, retried next time
  delivered_.erase(delivered_.begin(), delivered_.begin() + n);
}

void write_redis_hash(RedisConnection& conn, const std::string& prefix, int64_t batch_time_ms,
                      const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string key = prefix + ":" + std::to_string(batch_time_ms);
  conn.command({"MULTI"});
  conn.command({"DEL", key});
  if (!fields.empty()) {
    std::vector<std::string> hset{"HSET", key};
    for (auto& [f, v] : fields) {
      hset.push_back(f);
      hset.push_back(v);
    }
    conn.command(hset);
  }
  conn.command({"EXEC"});
}

void write_redis_hash_retrying(const std::string& host, uint16_t port, const std::string& prefix,
                               int64_t batch_time_ms,
                               const std::vector<std::pair<std::string, std::string>>& fields,
                               const RedisSinkOptions& options) {
  Backoff backoff;
  auto started = std::chrono::steady_clock::now();
  for (int attempt = 1;; ++attempt) {
    try {
      RedisConnection conn(host, port);
      write_redis_hash(conn, prefix, batch_time_ms, fields);
      if (attempt > 1)
        spdlog::info("redis {}:{}: wrote batch {} after {} attempts", host, port, batch_time_ms, attempt);
      return;
    } catch (const RedisUnavailable& e) {
      auto waited = std::chrono::steady_clock::now() - started;
      if (waited + backoff.current() > options.give_up_after)
        throw std::runtime_error(std::string(e.what()) + "; gave up writing batch " + std::to_string(batch_time_ms) +
                                 " after " + std::to_string(attempt) + " attempts");
      if (attempt == 1)
        spdlog::warn("{}; retrying the write of batch {} with backoff", e.what(), batch_time_ms);
      std::this_thread::sleep_for(backoff.take());
    }
  }
}

}  // namespace trib
