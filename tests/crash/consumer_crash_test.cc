// Consumers in their own processes (tidemq-test-consumer), killed with SIGKILL or stopped with
// SIGTERM while a real broker process serves them:
//  - a consumer killed mid-processing: every message it held comes back (lease lapse) to the
//    next consumer, with its attempt counted;
//  - three consumers of a FIFO group joining and leaving while a producer sends: every message
//    processed at least once, none lost, each message group's order kept across processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/crash/broker_process.h"
#include "tidemq/tidemq.h"

namespace tidemq::testing {
namespace {

constexpr int64_t kLeaseMs = 2000;

struct Event {
  bool done = false;       // DONE line (else RECV)
  std::string id;
  uint32_t attempt = 0;
  int64_t ns = 0;
  std::string body;
  int consumer = 0;
};

class ConsumerProcess {
 public:
  ConsumerProcess(const BrokerProcess& broker, int number, const std::string& group,
                  const std::string& topic, int64_t hold_ms)
      : number_(number), out_(broker.root() + "/consumer-" + std::to_string(number) + ".out") {
    pid_ = Spawn({TIDEMQ_CONSUMER_BIN, broker.address(), group, topic, std::to_string(hold_ms),
                  std::to_string(kLeaseMs)},
                 out_, out_ + ".err");
  }
  ~ConsumerProcess() { Signal(SIGKILL); }

  bool running() const { return pid_ > 0; }
  // SIGKILL (crash) or SIGTERM (graceful shutdown: waits for it to exit).
  void Signal(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  std::vector<Event> Events() const {
    std::vector<Event> out;
    std::istringstream in(ReadFile(out_));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string kind;
      Event e;
      e.consumer = number_;
      fields >> kind >> e.id;
      if (kind == "RECV") {
        int queue = 0;
        fields >> e.attempt >> e.ns >> queue >> e.body;
      } else if (kind == "DONE") {
        e.done = true;
        fields >> e.ns;
      } else {
        continue;  // a line cut by SIGKILL
      }
      if (!fields.fail()) out.push_back(e);
    }
    return out;
  }

 private:
  int number_;
  std::string out_;
  pid_t pid_ = -1;
};

std::vector<Event> AllEvents(const std::vector<std::unique_ptr<ConsumerProcess>>& consumers) {
  std::vector<Event> all;
  for (const auto& c : consumers) {
    auto e = c->Events();
    all.insert(all.end(), e.begin(), e.end());
  }
  std::sort(all.begin(), all.end(), [](const Event& a, const Event& b) { return a.ns < b.ns; });
  return all;
}

std::set<std::string> DoneIds(const std::vector<Event>& events) {
  std::set<std::string> ids;
  for (const Event& e : events) {
    if (e.done) ids.insert(e.id);
  }
  return ids;
}

// Waits (bounded) until `want` distinct messages were processed.
bool WaitAllDone(const std::vector<std::unique_ptr<ConsumerProcess>>& consumers, size_t want,
                 std::chrono::seconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (DoneIds(AllEvents(consumers)).size() >= want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class ConsumerCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.usable()) << "no temp dir or free port";
    Status st = broker_.Start({"--retry-backoff", "200ms"});
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto admin = Admin::NewBuilder().Endpoint(broker_.address()).Build();
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = std::make_unique<Admin>(std::move(admin).value());
    ASSERT_TRUE(admin_->CreateTopic("work", 4).ok());
    auto producer = Producer::NewBuilder().Endpoint(broker_.address()).Build();
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::make_unique<Producer>(std::move(producer).value());
  }

  // Sends body with message group `mg` ("" = none); returns the message id.
  std::string SendOne(const std::string& body, const std::string& mg = "") {
    auto b = Message::NewBuilder().Topic("work").Body(body);
    if (!mg.empty()) b.MessageGroup(mg);
    auto m = b.Build();
    EXPECT_TRUE(m.ok());
    auto r = producer_->Send(*m);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->message_id : "";
  }

  BrokerProcess broker_;
  std::unique_ptr<Admin> admin_;
  std::unique_ptr<Producer> producer_;
};

TEST_F(ConsumerCrashTest, MessagesOfAKilledConsumerAreRedelivered) {
  ASSERT_TRUE(admin_->CreateGroup("workers").ok());
  std::set<std::string> sent;
  for (int i = 0; i < 40; ++i) sent.insert(SendOne("job-" + std::to_string(i)));

  std::vector<std::unique_ptr<ConsumerProcess>> consumers;
  // The first consumer takes messages and never finishes one.
  consumers.push_back(std::make_unique<ConsumerProcess>(broker_, 1, "workers", "work", 600'000));
  ASSERT_TRUE(consumers[0]->running());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (consumers[0]->Events().size() < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::set<std::string> held;
  for (const Event& e : consumers[0]->Events()) held.insert(e.id);
  ASSERT_GE(held.size(), 4u) << "the first consumer received nothing";
  consumers[0]->Signal(SIGKILL);

  consumers.push_back(std::make_unique<ConsumerProcess>(broker_, 2, "workers", "work", 0));
  ASSERT_TRUE(WaitAllDone(consumers, sent.size(), std::chrono::seconds(60)));
  std::vector<Event> second = consumers[1]->Events();
  EXPECT_EQ(DoneIds(second), sent);
  // What the dead consumer held came back as a later attempt.
  for (const std::string& id : held) {
    uint32_t attempt = 0;
    for (const Event& e : second) {
      if (!e.done && e.id == id) attempt = std::max(attempt, e.attempt);
    }
    EXPECT_GE(attempt, 2u) << id;
  }
}

TEST_F(ConsumerCrashTest, FifoConsumersJoiningAndLeavingUnderLoadKeepOrderAndLoseNothing) {
  ASSERT_TRUE(admin_->CreateGroup("ordered", /*broadcast=*/false, /*fifo=*/true).ok());
  constexpr int kGroups = 12;
  constexpr int kPerGroup = 60;
  std::vector<std::unique_ptr<ConsumerProcess>> consumers;
  auto start_consumer = [&] {
    int n = static_cast<int>(consumers.size()) + 1;
    consumers.push_back(std::make_unique<ConsumerProcess>(broker_, n, "ordered", "work", 2));
    ASSERT_TRUE(consumers.back()->running());
  };
  start_consumer();

  // The producer sends while consumers come and go: one step of the schedule every 80 sends.
  std::map<std::string, std::pair<int, int>> sent;  // id -> (message group, sequence)
  int step = 0;
  for (int i = 0; i < kPerGroup; ++i) {
    for (int g = 0; g < kGroups; ++g) {
      std::string body = "mg" + std::to_string(g) + ":" + std::to_string(i);
      sent[SendOne(body, "mg" + std::to_string(g))] = {g, i};
    }
    if (i % 8 == 7) {
      switch (step++) {
        case 0: start_consumer(); break;                     // joins
        case 1: start_consumer(); break;                     // joins: three now
        case 2: consumers[0]->Signal(SIGTERM); break;        // leaves gracefully
        case 3: consumers[1]->Signal(SIGKILL); break;        // crashes
        case 4: start_consumer(); break;                     // a replacement joins
        default: break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (!WaitAllDone(consumers, sent.size(), std::chrono::seconds(60))) {
    std::set<std::string> done = DoneIds(AllEvents(consumers));
    std::map<int, int> per_group;
    for (const auto& [id, gs] : sent) per_group[gs.first] += done.count(id) ? 1 : 0;
    std::ostringstream why;
    for (auto [g, n] : per_group) why << " mg" << g << "=" << n;
    auto info = admin_->DescribeGroup("ordered");
    if (info.ok()) {
      for (const auto& q : info->queues) {
        why << "\n  " << q.topic << ":" << q.queue_id << " committed " << q.committed_offset
            << " max " << q.max_offset << " inflight " << q.inflight;
      }
    }
    FAIL() << "processed " << done.size() << " of " << sent.size() << ":" << why.str();
  }

  std::vector<Event> all = AllEvents(consumers);
  std::set<std::string> done = DoneIds(all);
  for (const auto& [id, _] : sent) EXPECT_TRUE(done.count(id)) << "lost " << id;
  // Per message group, deliveries in time order never go back in sequence: a message is
  // delivered again only before its successor (a redelivery after a crash repeats it).
  std::map<int, int> last_seq;
  int backwards = 0;
  for (const Event& e : all) {
    if (e.done) continue;
    auto it = sent.find(e.id);
    ASSERT_NE(it, sent.end()) << "unknown message " << e.id;
    auto [g, seq] = it->second;
    auto prev = last_seq.find(g);
    if (prev != last_seq.end() && seq < prev->second) {
      ++backwards;
      ADD_FAILURE() << "mg" << g << ": " << seq << " delivered after " << prev->second
                    << " (consumer " << e.consumer << ")";
    }
    last_seq[g] = std::max(seq, prev == last_seq.end() ? seq : prev->second);
    if (backwards > 5) break;
  }
  // Several members shared the work.
  std::set<int> workers;
  for (const Event& e : all) {
    if (e.done) workers.insert(e.consumer);
  }
  EXPECT_GE(workers.size(), 3u);
}

}  // namespace
}  // namespace tidemq::testing
