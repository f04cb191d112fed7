// A system under test as the load shapes of tidemq-peer-bench see it (peer_bench.cc). TideMQ
// runs through bench/workload.h, the producers and consumers tidemq-bench uses
// (tidemq_system.cc); the peers through their native clients behind peer_client.h
// (pipelined_system.cc).
//
// Every call is bounded by its RunControl, its count, or a drain limit; none throws. A System
// is used by one thread at a time (Schedule starts its own receiving thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bench/peers/peer_client.h"
#include "bench/workload.h"
#include "common/status.h"

namespace tidemq::bench::peers {

// Receivers give up after this long without a message once every send is done and due.
inline constexpr int64_t kIdleStopMs = 5000;
// Scheduled shape: receiving ends at the latest this long after the last message fell due.
inline constexpr int64_t kDrainLimitMs = 60'000;

class System {
 public:
  virtual ~System() = default;
  // Publishes until `control` says the run is over, `window` sends outstanding (1: one at a
  // time); stats gets msg/s and the latency from send to acknowledgement.
  virtual Status Publish(int window, RunControl& control, SideStats& stats) = 0;
  // Stores `count` messages for Consume, as fast as the system takes them (not measured).
  virtual Status Fill(uint64_t count) = 0;
  // Receives and acknowledges `count` stored messages in batches of `batch`; every one counts
  // as measured in `stats` (a warm-up passes stats it throws away).
  virtual Status Consume(uint64_t count, uint32_t batch, SideStats& stats) = 0;
  // Sends control's count of messages, each due delay_ms after its send, unpaced with
  // `window` outstanding, while one receiver takes them as they fall due in batches of
  // `batch`: `sent` counts the sends, `delivered` the receipts with their lateness (receive
  // time - due time) as latency.
  virtual Status Schedule(int window, uint32_t batch, RunControl& control, SideStats& sent,
                          SideStats& delivered) = 0;
  // How the system delays a message, for the output; "" when it has no scheduled messages.
  virtual std::string ScheduleMethod() const = 0;
};

struct TidemqOptions {
  std::string addr;
  std::string topic;
  uint32_t queues = 8;  // tidemq-bench's default
  int64_t delay_ms = 2000;
};

Result<std::unique_ptr<System>> NewTidemqSystem(const TidemqOptions& options);
std::unique_ptr<System> NewPipelinedSystem(std::unique_ptr<PeerClient> client,
                                           const PeerOptions& options);

}  // namespace tidemq::bench::peers
