#include "io/redis.hpp"

#include <hiredis/hiredis.h>

#include <stdexcept>

#include <spdlog/spdlog.h>

namespace trib {

struct RedisConnection::Reply {
  explicit Reply(redisReply* r) : raw(r) {}
  ~Reply() {
    if (raw) freeReplyObject(raw);
  }
  redisReply* raw;
};

RedisConnection::RedisConnection(std::string host, uint16_t port)
    : host_(std::move(host)), port_(port) {
  timeval timeout{2, 0};
  ctx_ = redisConnectWithTimeout(host_.c_str(), port_, timeout);
  if (!ctx_ || ctx_->err) {
    std::string why = ctx_ ? ctx_->errstr : "cannot allocate a connection";
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
    throw std::runtime_error("redis " + where() + ": " + why);
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
  if (!r) throw std::runtime_error("redis " + where() + ": " + args[0] + " failed: " + ctx_->errstr);
  auto reply = std::make_unique<Reply>(r);
  if (r->type == REDIS_REPLY_ERROR)
    throw std::runtime_error("redis " + where() + ": " + args[0] + ": " + std::string(r->str, r->len));
  return reply;
}

std::vector<std::pair<std::string, std::string>> RedisConnection::read_stream(
    const std::string& key, const std::string& after, const std::string& field, int64_t count) {
  auto reply = command({"XREAD", "COUNT", std::to_string(count), "STREAMS", key, after});
  std::vector<std::pair<std::string, std::string>> entries;
  redisReply* r = reply->raw;
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return entries;  // nil: nothing new
  redisReply* stream = r->element[0];            // [key, [entries]]
  redisReply* items = stream->element[1];
  for (size_t i = 0; i < items->elements; ++i) {
    redisReply* entry = items->element[i];       // [id, [f1, v1, f2, v2, ...]]
    std::string id(entry->element[0]->str, entry->element[0]->len);
    redisReply* kv = entry->element[1];
    std::string value;
    for (size_t j = 0; j + 1 < kv->elements; j += 2)
      if (std::string(kv->element[j]->str, kv->element[j]->len) == field)
        value.assign(kv->element[j + 1]->str, kv->element[j + 1]->len);
    entries.emplace_back(std::move(id), std::move(value));
  }
  return entries;
}

RedisStreamSource::RedisStreamSource(std::string host, uint16_t port, std::string key,
                                     RedisStreamOptions opts, int partitions)
    : host_(std::move(host)), port_(port), key_(std::move(key)), opts_(std::move(opts)),
      partitions_(partitions), last_id_(opts_.start_after) {
  name = "redisStream";
  if (opts_.max_records_per_batch <= 0)
    throw std::invalid_argument("redisStream: max_records_per_batch must be positive");
}

RedisStreamSource::~RedisStreamSource() = default;

bool RedisStreamSource::poll(int64_t, Dataset& out) {
  std::vector<std::string> records;
  auto now = std::chrono::steady_clock::now();
  if (now >= retry_at_) {
    try {
      if (!conn_) conn_ = std::make_unique<RedisConnection>(host_, port_);
      for (auto& [id, value] : conn_->read_stream(key_, last_id_, opts_.field, opts_.max_records_per_batch)) {
        records.push_back(std::move(value));
        last_id_ = id;
      }
      if (warned_) spdlog::info("redis {}:{}: reading stream {} again", host_, port_, key_);
      warned_ = false;
      backoff_ = std::chrono::milliseconds(100);
    } catch (const std::exception& e) {
      // Nothing of this poll is kept: the position stays where it was.
      records.clear();
      conn_.reset();
      if (!warned_)
        spdlog::warn("{}; retrying with backoff (stream {} stays at {})", e.what(), key_, last_id_);
      warned_ = true;
      retry_at_ = now + backoff_;
      backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(5000));
    }
  }
  out = split_into_partitions(std::move(records), partitions_);
  return true;
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

}  // namespace trib
