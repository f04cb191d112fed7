// Receives and acks up to 10 messages, then exits (or when a receive comes back empty).
//   tidemq-example-simple-consumer [--addr HOST:PORT] [TOPIC] [GROUP]
#include "tidemq/simple_consumer.h"

#include <iostream>

#include "examples/example_args.h"

int main(int argc, char** argv) {
  auto args = tidemq_examples::ParseArgs(argc, argv);
  auto consumer = tidemq::SimpleConsumer::NewBuilder()
                      .Endpoint(args.addr)
                      .Group(args.group)
                      .Topic(args.topic)
                      .TagFilter("*")
                      .AwaitDuration(5000)
                      .Build();
  if (!consumer.ok()) {
    std::cerr << "error: " << consumer.status().message() << "\n";
    return 1;
  }
  constexpr int kLimit = 10;
  int received = 0;
  while (received < kLimit) {
    auto batch = consumer->Receive(kLimit - received);
    if (!batch.ok()) {
      std::cerr << "error: " << batch.status().message() << "\n";
      return 1;
    }
    if (batch->empty()) break;  // nothing arrived within the await duration
    for (const auto& m : *batch) {
      std::cout << m.message_id() << " queue " << m.queue_id() << " offset " << m.queue_offset()
                << " tag " << m.tag() << " attempt " << m.delivery_attempt() << ": " << m.body()
                << "\n";
      if (auto st = consumer->Ack(m); !st.ok()) std::cerr << "ack failed: " << st.message() << "\n";
      ++received;
    }
  }
  std::cout << received << " message(s) consumed\n";
  return 0;
}
