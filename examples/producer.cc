// Sends a few tagged, keyed messages and prints where each was stored.
//   tidemq-example-producer [--addr HOST:PORT] [TOPIC]
#include "tidemq/producer.h"

#include <iostream>
#include <string>

#include "examples/example_args.h"

int main(int argc, char** argv) {
  auto args = tidemq_examples::ParseArgs(argc, argv);
  auto producer = tidemq::Producer::NewBuilder().Endpoint(args.addr).Build();
  if (!producer.ok()) {
    std::cerr << "error: " << producer.status().message() << "\n";
    return 1;
  }
  for (int i = 0; i < 5; ++i) {
    auto message = tidemq::Message::NewBuilder()
                       .Topic(args.topic)
                       .Tag(i % 2 == 0 ? "created" : "paid")
                       .Key("order-" + std::to_string(i))
                       .Body("order event #" + std::to_string(i))
                       .Build();
    if (!message.ok()) {
      std::cerr << "error: " << message.status().message() << "\n";
      return 1;
    }
    auto receipt = producer->Send(*message);
    if (!receipt.ok()) {
      std::cerr << "error: " << receipt.status().message() << "\n";
      return 1;
    }
    std::cout << "sent " << receipt->message_id << " to queue " << receipt->queue_id
              << " at offset " << receipt->queue_offset << "\n";
  }
  return 0;
}
