// NATS JetStream through cnats (libnats): a file-store stream per measurement (the server
// syncs its files on its own schedule, not per message), js_PublishAsync with the library's
// ack handler (this driver caps the outstanding sends itself), and a durable pull consumer
// with AckAll: natsSubscription_Fetch of a batch, then one natsMsg_AckSync of the batch's last
// message. One-at-a-time publishing and the consumer use the library's SendAsap option (no
// wait for the flusher thread). JetStream has no scheduled messages.
#include <nats/nats.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/peers/peer_client.h"
#include "bench/workload.h"

namespace tidemq::bench::peers {
namespace {

constexpr char kDurable[] = "c";
// The library's own cap on async publishes: above any window this driver uses.
constexpr int64_t kMaxPending = 1 << 20;

Status NatsError(natsStatus s, const std::string& what) {
  if (s == NATS_OK) return Status::Ok();
  const char* detail = nats_GetLastError(nullptr);
  return Status(s == NATS_TIMEOUT || s == NATS_NO_SERVER ? Code::kUnavailable : Code::kInternal,
                "nats " + what + ": " + natsStatus_GetText(s) +
                    (detail != nullptr ? std::string(" (") + detail + ")" : ""));
}

// A connection and its JetStream context; `ack_handler` (with `closure`) hears publish acks.
// send_asap: every publish is written at once instead of by the library's flusher thread
// (which waits for more to batch): what cnats offers for one-at-a-time use.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const PeerOptions& o, bool send_asap,
                                                  jsPubAckHandler ack_handler = nullptr,
                                                  void* closure = nullptr) {
    auto conn = std::unique_ptr<Connection>(new Connection());
    const std::string url = "nats://" + o.host + ":" + std::to_string(o.port);
    natsOptions* options = nullptr;
    RETURN_IF_ERROR(NatsError(natsOptions_Create(&options), "options"));
    natsStatus s = natsOptions_SetURL(options, url.c_str());
    if (s == NATS_OK) s = natsOptions_SetSendAsap(options, send_asap);
    if (s == NATS_OK) s = natsConnection_Connect(&conn->nc_, options);
    natsOptions_Destroy(options);
    RETURN_IF_ERROR(NatsError(s, "connect"));
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.PublishAsync.MaxPending = kMaxPending;
    js_options.PublishAsync.AckHandler = ack_handler;
    js_options.PublishAsync.AckHandlerClosure = closure;
    RETURN_IF_ERROR(
        NatsError(natsConnection_JetStream(&conn->js_, conn->nc_, &js_options), "jetstream"));
    return conn;
  }

  ~Connection() {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
  }

  jsCtx* js() const { return js_; }

 private:
  Connection() = default;

  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

class NatsPipe : public Pipe {
 public:
  explicit NatsPipe(const std::string& subject) : subject_(subject) {}
  ~NatsPipe() override {
    // Outstanding acks call OnAck, which needs mu_: the connection goes first.
    if (conn_ != nullptr) js_PublishAsyncComplete(conn_->js(), nullptr);
    conn_.reset();
  }

  static Result<std::unique_ptr<Pipe>> Open(const PeerOptions& o, int window) {
    auto pipe = std::make_unique<NatsPipe>(o.name);
    ASSIGN_OR_RETURN(pipe->conn_, Connection::Open(o, window == 1, &NatsPipe::OnAck, pipe.get()));
    return std::unique_ptr<Pipe>(std::move(pipe));
  }

  Status Send(std::string_view body) override {
    return NatsError(js_PublishAsync(conn_->js(), subject_.c_str(), body.data(),
                                     static_cast<int>(body.size()), nullptr),
                     "publish");
  }

  Status Flush() override { return Status::Ok(); }  // the library's flusher sends

  Result<uint32_t> WaitAcks() override {
    std::unique_lock lock(mu_);
    acked_cv_.wait(lock, [this] { return acked_ > taken_ || !error_.ok(); });
    if (!error_.ok()) return error_;
    const auto n = static_cast<uint32_t>(acked_ - taken_);
    taken_ = acked_;
    return n;
  }

 private:
  // On the library's thread, once per publish, in publish order.
  static void OnAck(jsCtx*, natsMsg* msg, jsPubAck*, jsPubAckErr* error, void* closure) {
    auto* self = static_cast<NatsPipe*>(closure);
    {
      std::lock_guard lock(self->mu_);
      if (error != nullptr && self->error_.ok()) {
        self->error_ = Status(Code::kInternal, std::string("nats publish refused: ") +
                                                   (error->ErrText ? error->ErrText : "?"));
      }
      ++self->acked_;
    }
    self->acked_cv_.notify_one();
    natsMsg_Destroy(msg);
  }

  const std::string subject_;
  std::unique_ptr<Connection> conn_;
  std::mutex mu_;
  std::condition_variable acked_cv_;
  uint64_t acked_ = 0;  // GUARDED_BY(mu_)
  uint64_t taken_ = 0;  // GUARDED_BY(mu_)
  Status error_;        // GUARDED_BY(mu_): the first refusal
};

class NatsDrain : public Drain {
 public:
  ~NatsDrain() override {
    if (sub_ != nullptr) natsSubscription_Destroy(sub_);
  }

  static Result<std::unique_ptr<Drain>> Open(const PeerOptions& o) {
    auto drain = std::make_unique<NatsDrain>();
    // One fetch at a time, each waiting for its answer: written at once.
    ASSIGN_OR_RETURN(drain->conn_, Connection::Open(o, /*send_asap=*/true));
    jsSubOptions sub_options;
    jsSubOptions_Init(&sub_options);
    sub_options.Config.AckPolicy = js_AckAll;
    jsErrCode code = static_cast<jsErrCode>(0);
    RETURN_IF_ERROR(NatsError(js_PullSubscribe(&drain->sub_, drain->conn_->js(), o.name.c_str(),
                                               kDurable, nullptr, &sub_options, &code),
                              "pull subscribe"));
    return std::unique_ptr<Drain>(std::move(drain));
  }

  Result<uint32_t> Take(uint32_t max, int64_t wait_ms, std::vector<int64_t>* stamps,
                        int64_t* received_wall_ns) override {
    natsMsgList list{};
    natsStatus s = natsSubscription_Fetch(&list, sub_, static_cast<int>(max), wait_ms, nullptr);
    *received_wall_ns = WallNanos();
    if (s == NATS_TIMEOUT) return 0u;
    RETURN_IF_ERROR(NatsError(s, "fetch"));
    const auto n = static_cast<uint32_t>(list.Count);
    for (int i = 0; i < list.Count; ++i) {
      stamps->push_back(BodyStamp({natsMsg_GetData(list.Msgs[i]),
                                   static_cast<size_t>(natsMsg_GetDataLength(list.Msgs[i]))}));
    }
    Status acked = Status::Ok();
    if (n > 0) acked = NatsError(natsMsg_AckSync(list.Msgs[n - 1], nullptr, nullptr), "ack");
    natsMsgList_Destroy(&list);
    RETURN_IF_ERROR(acked);
    return n;
  }

 private:
  std::unique_ptr<Connection> conn_;
  natsSubscription* sub_ = nullptr;
};

class NatsClient : public PeerClient {
 public:
  explicit NatsClient(const PeerOptions& options) : options_(options) {}

  Status Prepare(bool) override {
    ASSIGN_OR_RETURN(auto conn, Connection::Open(options_, false));
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    const char* subjects[] = {options_.name.c_str()};
    config.Name = options_.name.c_str();
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    jsStreamInfo* info = nullptr;
    RETURN_IF_ERROR(NatsError(js_AddStream(&info, conn->js(), &config, nullptr, nullptr),
                              "add stream " + options_.name));
    jsStreamInfo_Destroy(info);
    return Status::Ok();
  }

  Result<std::unique_ptr<Pipe>> OpenPipe(bool scheduled, int window) override {
    if (scheduled) return Status(Code::kUnsupported, "nats: no scheduled messages");
    return NatsPipe::Open(options_, window);
  }

  Result<std::unique_ptr<Drain>> OpenDrain(bool) override { return NatsDrain::Open(options_); }

  std::string ScheduleMethod() const override { return ""; }

 private:
  const PeerOptions options_;
};

}  // namespace

std::unique_ptr<PeerClient> NewNatsClient(const PeerOptions& options) {
  return std::make_unique<NatsClient>(options);
}

}  // namespace tidemq::bench::peers
