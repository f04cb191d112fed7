// Consumes with a listener until 10 messages were handled or 30 seconds passed.
//   tidemq-example-push-consumer [--addr HOST:PORT] [TOPIC] [GROUP]
#include "tidemq/push_consumer.h"

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>

#include "examples/example_args.h"

int main(int argc, char** argv) {
  auto args = tidemq_examples::ParseArgs(argc, argv);
  constexpr int kLimit = 10;
  std::mutex mu;
  std::condition_variable done;
  int handled = 0;

  auto consumer =
      tidemq::PushConsumer::NewBuilder()
          .Endpoint(args.addr)
          .Group(args.group)
          .Topic(args.topic)
          .ConsumerThreads(2)
          .Listener([&](const tidemq::ReceivedMessage& m) {
            std::lock_guard lock(mu);
            std::cout << "[" << m.tag() << "] " << m.message_id() << ": " << m.body() << "\n";
            if (++handled >= kLimit) done.notify_one();
            return tidemq::ConsumeResult::kSuccess;  // kRetryLater would redeliver it later
          })
          .Build();
  if (!consumer.ok()) {
    std::cerr << "error: " << consumer.status().message() << "\n";
    return 1;
  }
  if (auto st = consumer->Start(); !st.ok()) {
    std::cerr << "error: " << st.message() << "\n";
    return 1;
  }
  {
    std::unique_lock lock(mu);
    done.wait_for(lock, std::chrono::seconds(30), [&] { return handled >= kLimit; });
  }
  consumer->Shutdown();
  std::cout << consumer->consumed() << " message(s) consumed\n";
  return 0;
}
