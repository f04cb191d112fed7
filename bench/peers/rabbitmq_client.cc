// RabbitMQ through rabbitmq-c (librabbitmq): publisher confirms on a channel in confirm mode
// (basic.publish through the default exchange; basic.ack, possibly `multiple`, confirms in
// publish order), and a consumer with prefetch = the batch size that acks each batch with
// one basic.ack `multiple` (fire-and-forget, as AMQP acks are).
//
// Configurations (PeerOptions::config): quorum (a quorum queue: confirmed once the Raft log
// is fsynced), classic (a durable classic queue, persistent messages: confirmed once the
// message store has synced them), classic-transient (a classic queue, transient messages:
// confirmed from memory). Scheduled messages: a per-message TTL (expiration) on a queue
// nobody consumes, which dead-letters expired messages to the queue the receiver reads.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/peers/peer_client.h"
#include "bench/workload.h"

namespace tidemq::bench::peers {
namespace {

constexpr amqp_channel_t kChannel = 1;
constexpr int kFrameMax = 131072;

std::string DelayQueue(const std::string& name) { return name + ".delay"; }

bool Transient(const PeerOptions& o) { return o.config == "classic-transient"; }
const char* QueueType(const PeerOptions& o) { return o.config == "quorum" ? "quorum" : "classic"; }

amqp_bytes_t Bytes(std::string_view s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

Status ReplyError(const amqp_rpc_reply_t& r, const std::string& what) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return Status::Ok();
    case AMQP_RESPONSE_NONE:
      return Status(Code::kInternal, "rabbitmq " + what + ": no reply");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return Status(Code::kUnavailable,
                    "rabbitmq " + what + ": " + amqp_error_string2(r.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return Status(Code::kInternal,
                      "rabbitmq " + what + ": channel closed: " +
                          std::string(static_cast<char*>(m->reply_text.bytes), m->reply_text.len));
      }
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return Status(Code::kInternal,
                      "rabbitmq " + what + ": connection closed: " +
                          std::string(static_cast<char*>(m->reply_text.bytes), m->reply_text.len));
      }
      return Status(Code::kInternal, "rabbitmq " + what + ": server exception");
  }
  return Status(Code::kInternal, "rabbitmq " + what + ": unknown reply");
}

Status LibraryError(int rc, const std::string& what) {
  if (rc >= 0) return Status::Ok();
  return Status(Code::kUnavailable, "rabbitmq " + what + ": " + amqp_error_string2(rc));
}

// One connection with channel kChannel open, logged in as guest (allowed from loopback).
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const PeerOptions& o) {
    auto conn = std::unique_ptr<Connection>(new Connection(amqp_new_connection()));
    amqp_socket_t* socket = amqp_tcp_socket_new(conn->state_);
    if (socket == nullptr) return Status(Code::kInternal, "rabbitmq: cannot create a socket");
    RETURN_IF_ERROR(LibraryError(amqp_socket_open(socket, o.host.c_str(), o.port), "connect"));
    conn->open_ = true;
    RETURN_IF_ERROR(ReplyError(
        amqp_login(conn->state_, "/", 0, kFrameMax, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"),
        "login"));
    amqp_channel_open(conn->state_, kChannel);
    RETURN_IF_ERROR(conn->LastReply("channel.open"));
    return conn;
  }

  ~Connection() {
    if (open_) {
      amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
      amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(state_);
  }

  amqp_connection_state_t state() const { return state_; }
  Status LastReply(const std::string& what) { return ReplyError(amqp_get_rpc_reply(state_), what); }

  // A durable queue of the configured type; `dead_letter_to`: where expired messages go.
  Status DeclareQueue(const PeerOptions& o, const std::string& queue,
                      const std::string& dead_letter_to) {
    std::vector<amqp_table_entry_t> args;
    auto add = [&args](const char* key, const char* value) {
      amqp_table_entry_t e;
      e.key = amqp_cstring_bytes(key);
      e.value.kind = AMQP_FIELD_KIND_UTF8;
      e.value.value.bytes = amqp_cstring_bytes(value);
      args.push_back(e);
    };
    add("x-queue-type", QueueType(o));
    if (!dead_letter_to.empty()) {
      add("x-dead-letter-exchange", "");
      add("x-dead-letter-routing-key", dead_letter_to.c_str());
    }
    amqp_table_t table{static_cast<int>(args.size()), args.data()};
    amqp_queue_declare(state_, kChannel, Bytes(queue), 0, /*durable=*/1, 0, 0, table);
    return LastReply("queue.declare " + queue);
  }

 private:
  explicit Connection(amqp_connection_state_t state) : state_(state) {}

  const amqp_connection_state_t state_;
  bool open_ = false;
};

class RabbitPipe : public Pipe {
 public:
  RabbitPipe(std::unique_ptr<Connection> conn, const PeerOptions& o, bool scheduled)
      : conn_(std::move(conn)),
        routing_key_(scheduled ? DelayQueue(o.name) : o.name),
        expiration_(std::to_string(o.delay_ms)) {
    props_._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props_.delivery_mode = Transient(o) ? 1 : 2;
    if (scheduled) {
      props_._flags |= AMQP_BASIC_EXPIRATION_FLAG;
      props_.expiration = Bytes(expiration_);
    }
  }

  static Result<std::unique_ptr<Pipe>> Open(const PeerOptions& o, bool scheduled) {
    ASSIGN_OR_RETURN(auto conn, Connection::Open(o));
    amqp_confirm_select(conn->state(), kChannel);
    RETURN_IF_ERROR(conn->LastReply("confirm.select"));
    return std::unique_ptr<Pipe>(std::make_unique<RabbitPipe>(std::move(conn), o, scheduled));
  }

  Status Send(std::string_view body) override {
    ++published_;
    return LibraryError(amqp_basic_publish(conn_->state(), kChannel, amqp_empty_bytes,
                                           Bytes(routing_key_), 0, 0, &props_, Bytes(body)),
                        "basic.publish");
  }

  Status Flush() override { return Status::Ok(); }  // basic.publish writes at once

  // Confirms of one channel come in publish order: an ack of tag T confirms all up to T.
  Result<uint32_t> WaitAcks() override {
    const uint64_t before = confirmed_;
    amqp_connection_state_t s = conn_->state();
    do {
      amqp_maybe_release_buffers(s);
      amqp_frame_t frame;
      RETURN_IF_ERROR(LibraryError(amqp_simple_wait_frame(s, &frame), "wait for confirms"));
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
          auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
          if (ack->delivery_tag > published_) return Internal("rabbitmq: confirm of an unsent tag");
          if (ack->delivery_tag > confirmed_) confirmed_ = ack->delivery_tag;
          break;
        }
        case AMQP_BASIC_NACK_METHOD:
          return Status(Code::kInternal, "rabbitmq: a publish was nacked");
        case AMQP_BASIC_RETURN_METHOD:
          return Status(Code::kInternal, "rabbitmq: a publish was returned (unroutable)");
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
          return Status(Code::kUnavailable, "rabbitmq: closed by the server while publishing");
        default:
          break;
      }
    } while (confirmed_ == before || amqp_frames_enqueued(s) || amqp_data_in_buffer(s));
    return static_cast<uint32_t>(confirmed_ - before);
  }

 private:
  const std::unique_ptr<Connection> conn_;
  const std::string routing_key_;
  const std::string expiration_;  // props_.expiration points here
  amqp_basic_properties_t props_{};
  uint64_t published_ = 0;  // delivery tags count from 1 per channel
  uint64_t confirmed_ = 0;
};

class RabbitDrain : public Drain {
 public:
  explicit RabbitDrain(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}

  static Result<std::unique_ptr<Drain>> Open(const PeerOptions& o) {
    ASSIGN_OR_RETURN(auto conn, Connection::Open(o));
    amqp_basic_qos(conn->state(), kChannel, 0, static_cast<uint16_t>(o.batch), 0);
    RETURN_IF_ERROR(conn->LastReply("basic.qos"));
    amqp_basic_consume(conn->state(), kChannel, Bytes(o.name), amqp_empty_bytes, 0,
                       /*no_ack=*/0, 0, amqp_empty_table);
    RETURN_IF_ERROR(conn->LastReply("basic.consume"));
    return std::unique_ptr<Drain>(std::make_unique<RabbitDrain>(std::move(conn)));
  }

  // The first delivery may take wait_ms; the rest of the batch is what has already arrived.
  Result<uint32_t> Take(uint32_t max, int64_t wait_ms, std::vector<int64_t>* stamps,
                        int64_t* received_wall_ns) override {
    amqp_connection_state_t s = conn_->state();
    uint32_t n = 0;
    uint64_t last_tag = 0;
    while (n < max) {
      const timeval wait = n == 0 ? timeval{wait_ms / 1000, (wait_ms % 1000) * 1000} : timeval{};
      amqp_maybe_release_buffers(s);
      amqp_envelope_t envelope;
      amqp_rpc_reply_t r = amqp_consume_message(s, &envelope, &wait, 0);
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
          r.library_error == AMQP_STATUS_TIMEOUT) {
        break;
      }
      RETURN_IF_ERROR(ReplyError(r, "consume"));
      stamps->push_back(BodyStamp(
          {static_cast<const char*>(envelope.message.body.bytes), envelope.message.body.len}));
      last_tag = envelope.delivery_tag;
      amqp_destroy_envelope(&envelope);
      ++n;
    }
    *received_wall_ns = WallNanos();
    if (n > 0) {
      RETURN_IF_ERROR(
          LibraryError(amqp_basic_ack(s, kChannel, last_tag, /*multiple=*/1), "basic.ack"));
    }
    return n;
  }

 private:
  const std::unique_ptr<Connection> conn_;
};

class RabbitClient : public PeerClient {
 public:
  explicit RabbitClient(const PeerOptions& options) : options_(options) {}

  Status Prepare(bool scheduled) override {
    if (options_.config != "quorum" && options_.config != "classic" && !Transient(options_)) {
      return InvalidArgument("rabbitmq: config must be quorum, classic or classic-transient");
    }
    ASSIGN_OR_RETURN(auto conn, Connection::Open(options_));
    RETURN_IF_ERROR(conn->DeclareQueue(options_, options_.name, ""));
    if (scheduled) {
      RETURN_IF_ERROR(conn->DeclareQueue(options_, DelayQueue(options_.name), options_.name));
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<Pipe>> OpenPipe(bool scheduled, int) override {
    return RabbitPipe::Open(options_, scheduled);
  }

  Result<std::unique_ptr<Drain>> OpenDrain(bool) override { return RabbitDrain::Open(options_); }

  std::string ScheduleMethod() const override { return "ttl-dead-letter"; }

 private:
  const PeerOptions options_;
};

}  // namespace

std::unique_ptr<PeerClient> NewRabbitMqClient(const PeerOptions& options) {
  return std::make_unique<RabbitClient>(options);
}

}  // namespace tidemq::bench::peers
