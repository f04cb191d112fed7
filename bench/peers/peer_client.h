// How tidemq-peer-bench talks to a peer system (Redis, RabbitMQ, NATS JetStream, beanstalkd)
// through its native client: one small interface, so the load shapes are written once
// (pipelined_system.cc) and each system's file says only how it publishes, receives and
// acknowledges.
//
// Bodies are 1 KiB; their first 8 bytes are a stamp the shapes set and read back (scheduled
// messages: the due time, wall-clock nanoseconds; bytes 8..15: a sequence number, so every
// body is distinct).
//
// Threads: a Pipe or a Drain belongs to the thread that opened it. A PeerClient may open
// several (the scheduled shape sends on one thread and receives on another).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemq::bench::peers {

// Every message of every shape: 1 KiB.
inline constexpr uint32_t kBodyBytes = 1024;

struct PeerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  // The system's configuration as named by bench/peers/run.sh. Only what the client decides
  // is read here (RabbitMQ: the queue type); servers are configured by the script.
  std::string config;
  // The queue (stream, tube) of this measurement: fresh for each one.
  std::string name = "peer";
  // Scheduled messages: due this long after their send.
  int64_t delay_ms = 2000;
  // Receive batches: a Drain's prefetch where the system has one (RabbitMQ).
  uint32_t batch = 64;
};

// Publishes with sends outstanding; acknowledgements are heard in send order.
class Pipe {
 public:
  virtual ~Pipe() = default;
  // Queues one message; it may sit in a buffer until Flush.
  virtual Status Send(std::string_view body) = 0;
  virtual Status Flush() = 0;
  // Waits for at least one acknowledgement; returns how many sends were acknowledged (the
  // oldest ones). A refused send is an error.
  virtual Result<uint32_t> WaitAcks() = 0;
};

// Receives and acknowledges, in the system's natural batch form.
class Drain {
 public:
  virtual ~Drain() = default;
  // Receives up to `max` messages, waiting up to wait_ms for the first (the rest only as far
  // as they are at hand), appends each body's stamp to *stamps, sets *received_wall_ns to the
  // wall-clock time they were in hand, then acknowledges them. Returns how many; 0 when
  // nothing came in time.
  virtual Result<uint32_t> Take(uint32_t max, int64_t wait_ms, std::vector<int64_t>* stamps,
                                int64_t* received_wall_ns) = 0;
};

class PeerClient {
 public:
  virtual ~PeerClient() = default;
  // Creates options.name's queue (and, when scheduled, whatever holds messages until due).
  virtual Status Prepare(bool scheduled) = 0;
  // scheduled: each message is due options.delay_ms after its send. window: the sends the
  // caller keeps outstanding (1: one at a time), for a client that tunes for it.
  virtual Result<std::unique_ptr<Pipe>> OpenPipe(bool scheduled, int window) = 0;
  virtual Result<std::unique_ptr<Drain>> OpenDrain(bool scheduled) = 0;
  // How this system delays a message, for the output; "" when it cannot (NATS).
  virtual std::string ScheduleMethod() const = 0;
  // Work the driver does for the system while scheduled messages are pending (Redis: the
  // sorted-set poller). Started before the first send, stopped after the last receive.
  virtual Status StartScheduler() { return Status::Ok(); }
  virtual Status StopScheduler() { return Status::Ok(); }
};

std::unique_ptr<PeerClient> NewRedisClient(const PeerOptions& options);
std::unique_ptr<PeerClient> NewRabbitMqClient(const PeerOptions& options);
std::unique_ptr<PeerClient> NewNatsClient(const PeerOptions& options);
std::unique_ptr<PeerClient> NewBeanstalkdClient(const PeerOptions& options);

// The stamp of a body (0 when shorter than 8 bytes).
int64_t BodyStamp(std::string_view body);

}  // namespace tidemq::bench::peers
