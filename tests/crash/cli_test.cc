// Smoke test of the `tidemq` command line against a real `tidemq-broker` process: the commands
// an operator runs first, their output and their exit codes
// (0 ok, 1 request refused, 2 usage error, 3 broker unreachable), and the documents --json
// prints.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/crash/broker_process.h"

namespace tidemq::testing {
namespace {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.usable()) << "no temp dir or free port"; }

  // Runs `tidemq --addr <broker> args...` to completion.
  CliResult Run(std::vector<std::string> args) { return RunAt(broker_.address(), std::move(args)); }

  // Runs `tidemq --addr <addresses> args...` to completion.
  CliResult RunAt(const std::string& addresses, std::vector<std::string> args) {
    args.insert(args.begin(), {TIDEMQ_CLI_BIN, "--addr", addresses, "--timeout", "3000"});
    std::string out_path = broker_.root() + "/cli.out";
    std::string err_path = broker_.root() + "/cli.err";
    std::filesystem::remove(out_path);
    std::filesystem::remove(err_path);
    CliResult r;
    pid_t pid = Spawn(args, out_path, err_path);
    if (pid < 0) return r;
    int wstatus = 0;
    pid_t w;
    do {
      w = waitpid(pid, &wstatus, 0);
    } while (w < 0 && errno == EINTR);
    if (w == pid && WIFEXITED(wstatus)) r.exit_code = WEXITSTATUS(wstatus);
    r.out = ReadFile(out_path);
    r.err = ReadFile(err_path);
    return r;
  }

  BrokerProcess broker_;
};

#define EXPECT_EXIT_CODE(result, code) \
  EXPECT_EQ((result).exit_code, code) << "stdout:\n" << (result).out << "stderr:\n" << (result).err

TEST_F(CliTest, NoBrokerListeningExitsThree) {
  CliResult r = Run({"stats"});
  EXPECT_EXIT_CODE(r, 3);
  r = Run({"send", "t", "body"});
  EXPECT_EXIT_CODE(r, 3);
}

// --addr takes a broker group's addresses: the first that answers serves; none answering is
// exit code 3 with every address named.
TEST_F(CliTest, AddrTakesAListOfBrokers) {
  BrokerProcess other;  // never started: nothing listens on its port
  ASSERT_TRUE(other.usable());
  CliResult r = RunAt(other.address() + "," + broker_.address(), {"stats"});
  EXPECT_EXIT_CODE(r, 3);
  EXPECT_NE(r.err.find(other.address()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(broker_.address()), std::string::npos) << r.err;

  Status st = broker_.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  r = RunAt(other.address() + "," + broker_.address(),
            {"topic", "create", "listed", "--queues", "1"});
  EXPECT_EXIT_CODE(r, 0);
  r = RunAt(other.address() + ", " + broker_.address(), {"send", "listed", "via-a-list"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("sent id="), std::string::npos) << r.out;
  EXPECT_EXIT_CODE(RunAt(other.address() + ",," + broker_.address(), {"stats"}), 1);
}

TEST_F(CliTest, BadUsageExitsTwo) {
  EXPECT_EXIT_CODE(Run({}), 2);
  EXPECT_EXIT_CODE(Run({"frobnicate"}), 2);
  EXPECT_EXIT_CODE(Run({"send"}), 2);                 // TOPIC missing
  EXPECT_EXIT_CODE(Run({"consume", "t"}), 2);         // --group missing
  EXPECT_EXIT_CODE(Run({"query", "--key", "k"}), 2);  // --key without --topic
  EXPECT_EXIT_CODE(Run({"topic", "create", "t", "--queues", "0"}), 2);
}

TEST_F(CliTest, TopicSendConsumeQueryGroupStats) {
  Status st = broker_.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();

  CliResult r = Run({"topic", "create", "cli-topic", "--queues", "2"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("cli-topic"), std::string::npos) << r.out;

  r = Run({"topic", "list"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("cli-topic"), std::string::npos) << r.out;

  r = Run({"send", "cli-topic", "hello-from-the-cli", "--tag", "greeting", "--key", "order-42"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("sent id="), std::string::npos) << r.out;

  r = Run({"send", "no-such-topic", "x"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;

  r = Run({"topic", "describe", "no-such-topic"});
  EXPECT_EXIT_CODE(r, 1);

  r = Run({"query", "--topic", "cli-topic", "--key", "order-42"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("hello-from-the-cli"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tag=greeting"), std::string::npos) << r.out;

  r = Run({"query", "--topic", "cli-topic", "--key", "no-such-key"});
  EXPECT_EXIT_CODE(r, 1);

  r = Run({"consume", "cli-topic", "--count", "1", "--group", "cli-group", "--wait", "2000"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("hello-from-the-cli"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("keys=order-42"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("1 message(s) received"), std::string::npos) << r.err;

  // Acked: the group has nothing more to read.
  r = Run({"consume", "cli-topic", "--count", "1", "--group", "cli-group", "--wait", "200"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(r.out.find("hello-from-the-cli"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("0 message(s) received"), std::string::npos) << r.err;

  r = Run({"group", "status", "cli-group"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("group cli-group"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cli-topic"), std::string::npos) << r.out;
  // Messages deleted by retention before the group consumed them: none here, but shown.
  EXPECT_NE(r.out.find("lost_to_retention=0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("LOST"), std::string::npos) << r.out;

  r = Run({"group", "status", "no-such-group"});
  EXPECT_EXIT_CODE(r, 1);

  r = Run({"stats"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("flush_policy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sync"), std::string::npos) << r.out;

  r = Run({"stats", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("\"counters\""), std::string::npos) << r.out;
}

// "scheduled id=<ID> queue=..." -> <ID>
std::string ScheduledId(const std::string& out) {
  size_t at = out.find("scheduled id=");
  if (at == std::string::npos) return "";
  at += 13;
  return out.substr(at, out.find(' ', at) - at);
}

TEST_F(CliTest, ScheduledSendCancelAndTimerCommands) {
  Status st = broker_.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EXIT_CODE(Run({"topic", "create", "orders", "--queues", "2"}), 0);

  CliResult r = Run({"send", "orders", "cancel me", "--delay", "600000"});
  EXPECT_EXIT_CODE(r, 0);
  const std::string later = ScheduledId(r.out);
  ASSERT_FALSE(later.empty()) << r.out;

  r = Run({"timer", "show", later});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("pending"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("orders"), std::string::npos) << r.out;
  r = Run({"timer", "stats"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("lateness"), std::string::npos) << r.out;

  r = Run({"cancel", later});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(r.out, "cancelled\n");
  EXPECT_EXIT_CODE(Run({"cancel", later}), 1);  // nothing pending any more
  EXPECT_EXIT_CODE(Run({"timer", "show", later}), 1);

  r = Run({"send", "orders", "close if unpaid", "--delay", "300"});
  EXPECT_EXIT_CODE(r, 0);
  const std::string soon = ScheduledId(r.out);
  ASSERT_FALSE(soon.empty()) << r.out;
  r = Run({"consume", "orders", "--count", "1", "--group", "g", "--wait", "10000"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("close if unpaid"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("DELIVER_AT_MS"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("cancel me"), std::string::npos) << r.out;
  r = Run({"cancel", soon});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(r.out, "already fired\n");
}

// The one JSON document a --json command prints; is_discarded() when the output is not JSON.
nlohmann::json ParseJson(const std::string& out) {
  return nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
}

// Streams (send, consume, query): one JSON object per line.
std::vector<nlohmann::json> ParseJsonLines(const std::string& out) {
  std::vector<nlohmann::json> docs;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) docs.push_back(ParseJson(line));
  return docs;
}

// The element of `array` whose `field` is `value`; null when there is none.
nlohmann::json FindBy(const nlohmann::json& array, const char* field, const std::string& value) {
  for (const auto& e : array) {
    if (e.value(field, "") == value) return e;
  }
  return nullptr;
}

TEST_F(CliTest, JsonOutput) {
  Status st = broker_.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();

  CliResult r = Run({"topic", "create", "json-topic", "--queues", "3", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  nlohmann::json j = ParseJson(r.out);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["name"], "json-topic");
  EXPECT_EQ(j["queue_count"], 3);
  EXPECT_EQ(j["queues"].size(), 3u);

  r = Run({"topic", "list", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  j = ParseJson(r.out);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  nlohmann::json topic = FindBy(j["topics"], "name", "json-topic");
  ASSERT_TRUE(topic.is_object()) << r.out;
  EXPECT_EQ(topic["queue_count"], 3);
  EXPECT_EQ(topic["messages"], 0);

  // A send prints one object per message, in send order.
  r = Run({"send", "json-topic", "first", "--key", "k1", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  std::vector<nlohmann::json> lines = ParseJsonLines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  ASSERT_FALSE(lines[0].is_discarded()) << r.out;
  const std::string first_id = lines[0].value("message_id", "");
  EXPECT_FALSE(first_id.empty()) << r.out;
  EXPECT_EQ(lines[0]["scheduled"], false);
  EXPECT_EQ(lines[0]["queue_offset"], 0);
  r = Run({"send", "json-topic", "more", "--count", "2", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  lines = ParseJsonLines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  for (const auto& line : lines) {
    ASSERT_FALSE(line.is_discarded()) << r.out;
    EXPECT_NE(line.value("message_id", ""), first_id);
  }

  r = Run({"topic", "describe", "json-topic", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  j = ParseJson(r.out);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["messages"], 3);

  r = Run({"query", "--id", first_id, "--json"});
  EXPECT_EXIT_CODE(r, 0);
  lines = ParseJsonLines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(lines[0]["body"], "first");
  EXPECT_EQ(lines[0]["keys"], nlohmann::json::array({"k1"}));

  // A scheduled message: no queue offset until it is due; timer show and cancel find it.
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  r = Run({"send", "json-topic", "later", "--delay", "600000", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  lines = ParseJsonLines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(lines[0]["scheduled"], true);
  EXPECT_FALSE(lines[0].contains("queue_offset")) << r.out;
  const std::string later = lines[0].value("message_id", "");
  ASSERT_FALSE(later.empty()) << r.out;
  r = Run({"timer", "show", later, "--json"});
  EXPECT_EXIT_CODE(r, 0);
  j = ParseJson(r.out);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["state"], "pending");
  EXPECT_EQ(j["topic"], "json-topic");
  EXPECT_GE(j.value("due_ms", int64_t{0}), now_ms + 600000);
  r = Run({"timer", "stats", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(ParseJson(r.out)["pending"], 1) << r.out;
  r = Run({"cancel", later, "--json"});
  EXPECT_EXIT_CODE(r, 0);
  j = ParseJson(r.out);
  EXPECT_EQ(j["cancelled"], true) << r.out;
  EXPECT_EQ(j["message_id"], later) << r.out;

  r = Run({"consume", "json-topic", "--group", "json-group", "--count", "3", "--wait", "2000",
           "--json"});
  EXPECT_EXIT_CODE(r, 0);
  lines = ParseJsonLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_TRUE(FindBy(lines, "id", first_id).is_object()) << r.out;

  // Acked: the group's committed offsets cover the three messages.
  r = Run({"group", "status", "json-group", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  j = ParseJson(r.out);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["name"], "json-group");
  EXPECT_EQ(j["mode"], "clustering");
  EXPECT_EQ(j["total_lag"], 0);
  int64_t committed = 0;
  for (const auto& q : j["queues"]) {
    EXPECT_EQ(q["topic"], "json-topic");
    committed += q.value("committed_offset", int64_t{0});
  }
  EXPECT_EQ(committed, 3) << r.out;
  r = Run({"group", "list", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_TRUE(FindBy(ParseJson(r.out)["groups"], "name", "json-group").is_object()) << r.out;

  r = Run({"group", "create", "json-fifo", "--fifo", "--max-attempts", "3", "--retry-backoff",
           "1s,2s", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  j = ParseJson(r.out);
  EXPECT_EQ(j["fifo"], true) << r.out;
  EXPECT_EQ(j["max_attempts"], 3) << r.out;
  EXPECT_EQ(j["retry_backoff"], "1s,2s") << r.out;

  r = Run({"dlq", "list", "json-group", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  j = ParseJson(r.out);
  EXPECT_EQ(j["total"], 0) << r.out;
  EXPECT_TRUE(j["messages"].empty()) << r.out;
  r = Run({"dlq", "purge", "json-group", "--all", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(ParseJson(r.out)["purged"], 0) << r.out;

  r = Run({"stats", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(ParseJson(r.out)["info"]["flush_policy"], "sync") << r.out;

  // Errors stay on stderr: nothing on stdout to mistake for a document.
  r = Run({"topic", "describe", "no-such-topic", "--json"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;

  r = Run({"group", "delete", "json-fifo", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(ParseJson(r.out)["deleted"], true) << r.out;
  r = Run({"topic", "delete", "json-topic", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(ParseJson(r.out)["topic"], "json-topic") << r.out;
  r = Run({"topic", "list", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_TRUE(FindBy(ParseJson(r.out)["topics"], "name", "json-topic").is_null()) << r.out;
}

// A transaction left open by its producer, inspected and committed by hand.
// `tidemq trace` and `tidemq group reset-offset` against a real broker process: the trace of a
// message sent, consumed and acked, in text and JSON, and a group's position moved back.
TEST_F(CliTest, TraceAndResetOffset) {
  Status st = broker_.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EXIT_CODE(Run({"topic", "create", "traced", "--queues", "1"}), 0);
  CliResult r = Run({"send", "traced", "order 42", "--key", "order-42", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  const std::string id = ParseJsonLines(r.out).at(0).value("message_id", "");
  ASSERT_FALSE(id.empty()) << r.out;
  EXPECT_EXIT_CODE(Run({"consume", "traced", "--group", "billing", "--count", "1"}), 0);

  // The delivery and the ack reach the log with the broker's next housekeeping pass.
  nlohmann::json j;
  for (int i = 0; i < 100; ++i) {
    r = Run({"trace", "--topic", "traced", "--key", "order-42", "--json"});
    EXPECT_EXIT_CODE(r, 0);
    j = ParseJson(r.out);
    ASSERT_FALSE(j.is_discarded()) << r.out;
    if (j["traces"].size() == 1 && j["traces"][0]["steps"].size() >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(j["traces"].size(), 1u) << r.out;
  EXPECT_EQ(j["traces"][0]["message_id"], id);
  std::vector<std::string> kinds;
  for (const auto& s : j["traces"][0]["steps"]) kinds.push_back(s["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"sent", "delivered", "acked"})) << r.out;
  EXPECT_EQ(j["traces"][0]["steps"][1]["detail"]["group"], "billing");
  r = Run({"trace", id});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_NE(r.out.find("delivered"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("group=billing"), std::string::npos) << r.out;
  EXPECT_EXIT_CODE(Run({"trace", "no-such-message"}), 1);
  EXPECT_EXIT_CODE(Run({"trace"}), 2);  // neither an id nor a key

  // Back to the start of the day: the acked message is delivered again.
  r = Run({"group", "reset-offset", "billing", "--topic", "traced", "--time", "2020-01-01", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  j = ParseJson(r.out);
  ASSERT_EQ(j["queues"].size(), 1u) << r.out;
  EXPECT_EQ(j["queues"][0]["from_offset"], 1);
  EXPECT_EQ(j["queues"][0]["to_offset"], 0);
  r = Run({"consume", "traced", "--group", "billing", "--count", "1", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(ParseJsonLines(r.out).at(0).value("id", ""), id) << r.out;
  EXPECT_EXIT_CODE(Run({"group", "reset-offset", "billing", "--topic", "nope", "--time", "2020-01-01"}), 1);
  EXPECT_EXIT_CODE(Run({"group", "reset-offset", "billing", "--topic", "traced", "--time", "soon"}), 2);
}

TEST_F(CliTest, TxnJsonOutput) {
  Status st = broker_.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EXIT_CODE(Run({"topic", "create", "txn-topic", "--queues", "1"}), 0);
  auto producer = Producer::NewBuilder()
                      .Endpoint(broker_.address())
                      .Group("json-txn")
                      .TransactionChecker([](const ReceivedMessage&) {
                        return TransactionResolution::kUnknown;  // leave it to the operator
                      })
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  std::string id;
  {
    auto txn = producer->BeginTransaction();
    ASSERT_TRUE(txn.ok()) << txn.status().ToString();
    auto m = Message::NewBuilder().Topic("txn-topic").Body("half").Build();
    ASSERT_TRUE(m.ok());
    auto half = txn->Send(*m);
    ASSERT_TRUE(half.ok()) << half.status().ToString();
    id = half->message_id;
  }  // neither committed nor rolled back

  CliResult r = Run({"txn", "list", "--state", "pending", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  nlohmann::json j = ParseJson(r.out);
  ASSERT_TRUE(j.is_array()) << r.out;
  nlohmann::json t = FindBy(j, "message_id", id);
  ASSERT_TRUE(t.is_object()) << r.out;
  EXPECT_EQ(t["state"], "pending");
  EXPECT_EQ(t["producer_group"], "json-txn");
  EXPECT_EQ(t["topic"], "txn-topic");

  r = Run({"txn", "commit", id, "--json"});
  EXPECT_EXIT_CODE(r, 0);
  j = ParseJson(r.out);
  EXPECT_EQ(j["message_id"], id) << r.out;
  EXPECT_EQ(j["state"], "committed") << r.out;

  r = Run({"txn", "show", id, "--json"});
  EXPECT_EXIT_CODE(r, 0);
  j = ParseJson(r.out);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["state"], "committed");
  EXPECT_EQ(j["end_reason"], "operator");
  EXPECT_EQ(j["queue_id"], 0);
  EXPECT_GT(j.value("end_ms", int64_t{0}), 0);

  r = Run({"txn", "stats", "--json"});
  EXPECT_EXIT_CODE(r, 0);
  j = ParseJson(r.out);
  EXPECT_EQ(j["pending"], 0) << r.out;
  EXPECT_EQ(j["committed"], 1) << r.out;
}

}  // namespace
}  // namespace tidemq::testing
