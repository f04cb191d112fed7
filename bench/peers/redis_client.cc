// Redis through hiredis. The durable queue is a stream: XADD to publish (pipelined: replies
// come in command order), XREADGROUP + XACK (one call each per batch) to consume. Redis has
// no scheduled messages: the usual pattern stands in for them, a sorted set scored by due
// time that a poller in this driver moves into a list every millisecond (one Lua script per
// poll: ZRANGEBYSCORE, RPUSH, ZREM), and the receiver pops the list (BLMPOP, no ack: the pop
// takes the message).
#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/peers/peer_client.h"
#include "bench/workload.h"
#include "common/logging.h"

namespace tidemq::bench::peers {
namespace {

constexpr char kGroup[] = "g";
constexpr char kConsumer[] = "c";
constexpr auto kPollInterval = std::chrono::milliseconds(1);
constexpr int kPollLimit = 1000;  // messages moved per poll at most
constexpr char kPollScript[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "if #due > 0 then\n"
    "  redis.call('RPUSH', KEYS[2], unpack(due))\n"
    "  redis.call('ZREM', KEYS[1], unpack(due))\n"
    "end\n"
    "return #due\n";

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

std::string DueKey(const std::string& name) { return name + ":due"; }
std::string ReadyKey(const std::string& name) { return name + ":ready"; }

// One connection: blocking commands, or appended commands whose replies are read later.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const PeerOptions& o) {
    redisContext* ctx = redisConnectWithTimeout(o.host.c_str(), o.port, timeval{5, 0});
    if (ctx == nullptr) return Status(Code::kUnavailable, "redis: cannot allocate a context");
    auto conn = std::unique_ptr<Connection>(new Connection(ctx));
    if (ctx->err != 0) return conn->Error("connect");
    return conn;
  }
  ~Connection() { redisFree(ctx_); }

  Status Append(const std::vector<std::string_view>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (std::string_view a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      return Error("append");
    }
    return Status::Ok();
  }

  Status Flush() {
    int done = 0;
    while (done == 0) {
      if (redisBufferWrite(ctx_, &done) != REDIS_OK) return Error("write");
    }
    return Status::Ok();
  }

  // The next reply, waiting for it; an error reply is an error.
  Result<Reply> Next() {
    void* r = nullptr;
    if (redisGetReply(ctx_, &r) != REDIS_OK) return Error("read");
    return Checked(Reply(static_cast<redisReply*>(r)));
  }

  // A reply already read off the socket, or null.
  Result<Reply> Buffered() {
    void* r = nullptr;
    if (redisGetReplyFromReader(ctx_, &r) != REDIS_OK) return Error("read");
    if (r == nullptr) return Reply();
    return Checked(Reply(static_cast<redisReply*>(r)));
  }

  Result<Reply> Command(const std::vector<std::string_view>& args) {
    RETURN_IF_ERROR(Append(args));
    return Next();
  }

 private:
  explicit Connection(redisContext* ctx) : ctx_(ctx) {}

  Status Error(const char* what) const {
    return Status(Code::kUnavailable, std::string("redis ") + what + ": " + ctx_->errstr);
  }
  static Result<Reply> Checked(Reply r) {
    if (r->type == REDIS_REPLY_ERROR) {
      return Status(Code::kInternal, std::string("redis: ") + std::string(r->str, r->len));
    }
    return r;
  }

  redisContext* const ctx_;
};

class RedisPipe : public Pipe {
 public:
  RedisPipe(std::unique_ptr<Connection> conn, const std::string& name, bool scheduled)
      : conn_(std::move(conn)), key_(scheduled ? DueKey(name) : name), scheduled_(scheduled) {}

  Status Send(std::string_view body) override {
    if (!scheduled_) return conn_->Append({"XADD", key_, "*", "b", body});
    char score[32];  // the due time in milliseconds, fractions kept
    std::snprintf(score, sizeof(score), "%.3f", static_cast<double>(BodyStamp(body)) / 1e6);
    return conn_->Append({"ZADD", key_, score, body});
  }

  Status Flush() override { return conn_->Flush(); }

  Result<uint32_t> WaitAcks() override {
    ASSIGN_OR_RETURN(Reply first, conn_->Next());
    uint32_t n = 1;
    while (true) {
      ASSIGN_OR_RETURN(Reply more, conn_->Buffered());
      if (more == nullptr) return n;
      ++n;
    }
  }

 private:
  const std::unique_ptr<Connection> conn_;
  const std::string key_;
  const bool scheduled_;
};

// Plain: the stream through the consumer group. Scheduled: the list the poller fills.
class RedisDrain : public Drain {
 public:
  RedisDrain(std::unique_ptr<Connection> conn, const std::string& name, bool scheduled)
      : conn_(std::move(conn)), name_(name), ready_(ReadyKey(name)), scheduled_(scheduled) {}

  Result<uint32_t> Take(uint32_t max, int64_t wait_ms, std::vector<int64_t>* stamps,
                        int64_t* received_wall_ns) override {
    const std::string count = std::to_string(max);
    if (scheduled_) {
      const std::string timeout = std::to_string(static_cast<double>(wait_ms) / 1000.0);
      ASSIGN_OR_RETURN(Reply r,
                       conn_->Command({"BLMPOP", timeout, "1", ready_, "LEFT", "COUNT", count}));
      *received_wall_ns = WallNanos();
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return 0u;
      const redisReply* items = r->element[1];
      for (size_t i = 0; i < items->elements; ++i) {
        stamps->push_back(BodyStamp({items->element[i]->str, items->element[i]->len}));
      }
      return static_cast<uint32_t>(items->elements);
    }
    const std::string block = std::to_string(std::max<int64_t>(wait_ms, 1));
    ASSIGN_OR_RETURN(Reply r, conn_->Command({"XREADGROUP", "GROUP", kGroup, kConsumer, "COUNT",
                                              count, "BLOCK", block, "STREAMS", name_, ">"}));
    *received_wall_ns = WallNanos();
    // [[stream, [[id, [field, value]], ...]]], or nil when nothing came.
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return 0u;
    const redisReply* entries = r->element[0]->element[1];
    std::vector<std::string_view> ack = {"XACK", name_, kGroup};
    for (size_t i = 0; i < entries->elements; ++i) {
      const redisReply* entry = entries->element[i];
      ack.emplace_back(entry->element[0]->str, entry->element[0]->len);
      const redisReply* fields = entry->element[1];
      if (fields->elements >= 2) {
        stamps->push_back(BodyStamp({fields->element[1]->str, fields->element[1]->len}));
      }
    }
    if (entries->elements == 0) return 0u;
    ASSIGN_OR_RETURN(Reply acked, conn_->Command(ack));
    return static_cast<uint32_t>(entries->elements);
  }

 private:
  const std::unique_ptr<Connection> conn_;
  const std::string name_;
  const std::string ready_;
  const bool scheduled_;
};

class RedisClient : public PeerClient {
 public:
  explicit RedisClient(const PeerOptions& options) : options_(options) {}
  ~RedisClient() override { (void)StopScheduler(); }

  Status Prepare(bool scheduled) override {
    ASSIGN_OR_RETURN(auto conn, Connection::Open(options_));
    if (scheduled) {
      ASSIGN_OR_RETURN(Reply sha, conn->Command({"SCRIPT", "LOAD", kPollScript}));
      script_sha_.assign(sha->str, sha->len);
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(Reply r,
                     conn->Command({"XGROUP", "CREATE", options_.name, kGroup, "0", "MKSTREAM"}));
    return Status::Ok();
  }

  Result<std::unique_ptr<Pipe>> OpenPipe(bool scheduled, int) override {
    ASSIGN_OR_RETURN(auto conn, Connection::Open(options_));
    return std::unique_ptr<Pipe>(
        std::make_unique<RedisPipe>(std::move(conn), options_.name, scheduled));
  }

  Result<std::unique_ptr<Drain>> OpenDrain(bool scheduled) override {
    ASSIGN_OR_RETURN(auto conn, Connection::Open(options_));
    return std::unique_ptr<Drain>(
        std::make_unique<RedisDrain>(std::move(conn), options_.name, scheduled));
  }

  std::string ScheduleMethod() const override { return "zset-poller-1ms"; }

  Status StartScheduler() override {
    ASSIGN_OR_RETURN(auto conn, Connection::Open(options_));
    stop_ = false;
    poller_ = std::thread([this, conn = std::move(conn)] {
      SetThreadName("redis-poller");
      poll_status_ = Poll(*conn);
    });
    return Status::Ok();
  }

  Status StopScheduler() override {
    if (!poller_.joinable()) return Status::Ok();
    stop_ = true;
    poller_.join();
    return poll_status_;
  }

 private:
  // Every kPollInterval, moves the due members of the sorted set to the list (at once again
  // while a poll moved its limit).
  Status Poll(Connection& conn) {
    const std::string due = DueKey(options_.name);
    const std::string ready = ReadyKey(options_.name);
    const std::string limit = std::to_string(kPollLimit);
    while (!stop_.load()) {
      char now_ms[32];
      std::snprintf(now_ms, sizeof(now_ms), "%.3f", static_cast<double>(WallNanos()) / 1e6);
      ASSIGN_OR_RETURN(Reply moved,
                       conn.Command({"EVALSHA", script_sha_, "2", due, ready, now_ms, limit}));
      if (moved->integer < kPollLimit) std::this_thread::sleep_for(kPollInterval);
    }
    return Status::Ok();
  }

  const PeerOptions options_;
  std::string script_sha_;
  std::thread poller_;
  std::atomic<bool> stop_{false};
  Status poll_status_;  // written by the poller, read after joining it
};

}  // namespace

std::unique_ptr<PeerClient> NewRedisClient(const PeerOptions& options) {
  return std::make_unique<RedisClient>(options);
}

}  // namespace tidemq::bench::peers
