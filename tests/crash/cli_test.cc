// Smoke test of the `tidemq` command line against a real `tidemq-broker` process: the commands
// an operator runs first, their output and their exit codes
// (0 ok, 1 request refused, 2 usage error, 3 broker unreachable).
#include <gtest/gtest.h>

#include <string>
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

}  // namespace
}  // namespace tidemq::testing
