// EtcdClient and EtcdWatch against a real etcd (Debian's binary, tests/common/etcd_server.h),
// and against a tiny Beast server that answers garbage.
#include "cluster/etcd_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "cluster/etcd_watch.h"
#include "tests/common/etcd_server.h"
#include "tests/common/eventually.h"

namespace tidemq::cluster {
namespace {

using ::tidemq::testing::Eventually;

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class EtcdClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    etcd_ = new tidemq::testing::EtcdServer();
    Status st = etcd_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(etcd_->pid(), -1) << "etcd did not start (see SetUpTestSuite)";
    client_ = std::make_unique<EtcdClient>(EtcdClientOptions{{etcd_->endpoint()}, 5000, 2000});
    prefix_ = "/test/" +
              std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "/";
  }

  static tidemq::testing::EtcdServer* etcd_;
  std::unique_ptr<EtcdClient> client_;
  std::string prefix_;
};
tidemq::testing::EtcdServer* EtcdClientTest::etcd_ = nullptr;

TEST_F(EtcdClientTest, PutGetPrefixDelete) {
  std::string binary("v\0\xff\n", 4);
  ASSERT_TRUE(client_->Put(prefix_ + "a", "1").ok());
  ASSERT_TRUE(client_->Put(prefix_ + "b", binary).ok());
  ASSERT_TRUE(client_->Put(prefix_.substr(0, prefix_.size() - 1) + "0", "outside").ok());
  auto a = client_->Get(prefix_ + "a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->value, "1");
  auto all = client_->GetPrefix(prefix_);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->kvs.size(), 2u);
  EXPECT_EQ(all->kvs[1].value, binary);
  EXPECT_EQ(all->count, 2);
  auto deleted = client_->Delete(prefix_ + "a");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(*client_->Delete(prefix_ + "a"), 0);
  EXPECT_FALSE(client_->Get(prefix_ + "a")->has_value());
}

TEST_F(EtcdClientTest, RevisionSemantics) {
  auto r1 = client_->Put(prefix_ + "k", "1");
  ASSERT_TRUE(r1.ok());
  auto r2 = client_->Put(prefix_ + "k", "2");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(*r2, *r1 + 1);  // one revision per write
  auto kv = **client_->Get(prefix_ + "k");
  EXPECT_EQ(kv.create_revision, *r1);
  EXPECT_EQ(kv.mod_revision, *r2);
  EXPECT_EQ(kv.version, 2);
  ASSERT_TRUE(client_->Delete(prefix_ + "k").ok());
  auto r3 = client_->Put(prefix_ + "k", "3");
  kv = **client_->Get(prefix_ + "k");
  EXPECT_EQ(kv.create_revision, *r3);  // re-created: a new life
  EXPECT_EQ(kv.version, 1);
}

TEST_F(EtcdClientTest, TxnSuccessAndFailureBranches) {
  std::string k = prefix_ + "leader";
  // Absent -> success branch: put, then read back within the same transaction.
  auto t1 =
      client_->Txn({Compare::Absent(k)}, {TxnOp::Put(k, "me"), TxnOp::Get(k)}, {TxnOp::Get(k)});
  ASSERT_TRUE(t1.ok()) << t1.status().ToString();
  EXPECT_TRUE(t1->succeeded);
  ASSERT_EQ(t1->results.size(), 2u);
  EXPECT_EQ(t1->results[1].kvs.at(0).value, "me");
  // Present now -> failure branch, which reads the holder.
  auto t2 = client_->Txn({Compare::Absent(k)}, {TxnOp::Put(k, "other")}, {TxnOp::Get(k)});
  ASSERT_TRUE(t2.ok());
  EXPECT_FALSE(t2->succeeded);
  EXPECT_EQ(t2->results.at(0).kvs.at(0).value, "me");
  // Value and mod_revision compares; a delete op reports its count.
  int64_t mod = t2->results[0].kvs[0].mod_revision;
  auto t3 = client_->Txn({Compare::ValueEquals(k, "me"), Compare::ModRevisionEquals(k, mod),
                          Compare::VersionEquals(k, 1)},
                         {TxnOp::Delete(k), TxnOp::GetPrefix(prefix_)}, {});
  ASSERT_TRUE(t3.ok());
  EXPECT_TRUE(t3->succeeded);
  EXPECT_EQ(t3->results[0].deleted, 1);
  EXPECT_TRUE(t3->results[1].kvs.empty());
  EXPECT_GT(t3->revision, mod);
  auto t4 = client_->Txn({Compare::ModRevisionEquals(k, mod)}, {TxnOp::Put(k, "x")}, {});
  ASSERT_TRUE(t4.ok());
  EXPECT_FALSE(t4->succeeded);
}

TEST_F(EtcdClientTest, LeaseExpiryRemovesBoundKeysAndKeepAliveKeepsThem) {
  int64_t granted = 0;
  auto kept = client_->GrantLease(1, &granted);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(granted, 1);  // the fixture's raft timing lets etcd grant 1 s leases
  auto lapsing = client_->GrantLease(1);
  ASSERT_TRUE(lapsing.ok());
  ASSERT_TRUE(client_->Put(prefix_ + "kept", "1", *kept).ok());
  ASSERT_TRUE(client_->Put(prefix_ + "lapsing", "1", *lapsing).ok());
  EXPECT_EQ((**client_->Get(prefix_ + "kept")).lease, *kept);
  // Keep one lease alive until the other one's key is gone.
  bool gone = Eventually([&] {
    EXPECT_GT(*client_->KeepAliveOnce(*kept), 0);
    return !client_->Get(prefix_ + "lapsing")->has_value();
  });
  ASSERT_TRUE(gone);
  EXPECT_TRUE(client_->Get(prefix_ + "kept")->has_value());
  EXPECT_EQ(*client_->KeepAliveOnce(*lapsing), 0);  // gone: TTL 0
  EXPECT_EQ(client_->TimeToLive(*lapsing)->ttl_s, -1);
  auto info = client_->TimeToLive(*kept);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->granted_ttl_s, granted);
  // Revoke removes the keys at once; revoking again is fine.
  ASSERT_TRUE(client_->Revoke(*kept).ok());
  EXPECT_FALSE(client_->Get(prefix_ + "kept")->has_value());
  EXPECT_TRUE(client_->Revoke(*kept).ok());
  // A put on a dead lease is refused with etcd's reason.
  auto bad = client_->Put(prefix_ + "x", "1", *kept);
  EXPECT_EQ(bad.status().code(), Code::kNotFound) << bad.status().ToString();
}

TEST_F(EtcdClientTest, SeveralEndpointsWithTheFirstOneDead) {
  std::string dead = "127.0.0.1:" + std::to_string(tidemq::testing::FreeLoopbackPort());
  EtcdClient client(EtcdClientOptions{{dead, etcd_->endpoint()}, 5000, 1000});
  ASSERT_TRUE(client.Put(prefix_ + "k", "v").ok());
  EXPECT_EQ((**client.Get(prefix_ + "k")).value, "v");
  EtcdClient none(EtcdClientOptions{{dead}, 2000, 500});
  auto r = none.Get(prefix_ + "k");
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find(dead), std::string::npos) << r.status().ToString();
  EXPECT_EQ(SplitEndpoints(" a:1, b:2 ,,"), (std::vector<std::string>{"a:1", "b:2"}));
}

TEST_F(EtcdClientTest, SilentEndpointTimesOutAndTheNextOneAnswers) {
  // A listening socket nobody accepts on: connect succeeds (backlog), no answer ever comes.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string silent = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  EtcdClient alone(EtcdClientOptions{{silent}, 300, 300});
  EXPECT_EQ(alone.Get("k").status().code(), Code::kTimeout);
  EtcdClient both(EtcdClientOptions{{silent, etcd_->endpoint()}, 5000, 300});
  EXPECT_TRUE(both.Put(prefix_ + "k", "v").ok());
  close(fd);
}

// A one-connection-at-a-time HTTP server that answers every request with a fixed response.
class GarbageServer {
 public:
  GarbageServer(int status, std::string body) : status_(status), body_(std::move(body)) {
    namespace net = boost::asio;
    acceptor_.open(net::ip::tcp::v4());
    acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] { Serve(); });
  }
  ~GarbageServer() {
    stop_ = true;
    boost::system::error_code ec;
    // Wake accept() with a connection of our own.
    boost::asio::ip::tcp::socket s(ioc_);
    s.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::string endpoint() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  int connections() const { return accepted_.load(); }

 private:
  void Serve() {
    namespace http = boost::beast::http;
    while (!stop_) {
      boost::system::error_code ec;
      auto sock = acceptor_.accept(ec);
      if (ec || stop_) return;
      ++accepted_;
      boost::beast::flat_buffer buf;
      while (true) {
        http::request<http::string_body> req;
        http::read(sock, buf, req, ec);
        if (ec) break;
        http::response<http::string_body> res{static_cast<http::status>(status_), 11};
        res.body() = body_;
        res.prepare_payload();
        http::write(sock, res, ec);
        if (ec) break;
      }
    }
  }

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  int status_;
  std::string body_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST(EtcdClientGarbageTest, AnswersThatAreNotEtcdsGiveTypedErrors) {
  {
    GarbageServer server(200, "this is not json");
    EtcdClient client(EtcdClientOptions{{server.endpoint()}, 2000, 1000});
    EXPECT_EQ(client.Get("k").status().code(), Code::kInternal);
    EXPECT_EQ(client.GrantLease(5).status().code(), Code::kInternal);
    auto ka = client.KeepAliveOnce(5);
    EXPECT_EQ(ka.status().code(), Code::kInternal) << ka.status().ToString();
    EXPECT_EQ(client.Txn({}, {}, {}).status().code(), Code::kInternal);
    EXPECT_EQ(server.connections(), 1);  // one keep-alive connection for every call
  }
  {
    GarbageServer server(200, R"({"kvs":[{"key":7}],"succeeded":"yes","ID":{}})");
    EtcdClient client(EtcdClientOptions{{server.endpoint()}, 2000, 1000});
    EXPECT_EQ(client.Get("k").status().code(), Code::kInternal);
    EXPECT_EQ(client.Txn({}, {}, {}).status().code(), Code::kInternal);
    EXPECT_EQ(client.GrantLease(5).status().code(), Code::kInternal);
  }
  {
    GarbageServer server(500, R"({"error":"boom","code":13,"message":"boom"})");
    EtcdClient client(EtcdClientOptions{{server.endpoint()}, 2000, 1000});
    auto r = client.Put("k", "v");
    EXPECT_EQ(r.status().code(), Code::kInternal);
    EXPECT_NE(r.status().message().find("boom"), std::string::npos);
  }
  {
    GarbageServer server(400, R"({"error":"etcdserver: key is not provided","code":3})");
    EtcdClient client(EtcdClientOptions{{server.endpoint()}, 2000, 1000});
    EXPECT_EQ(client.Put("", "v").status().code(), Code::kInvalidArgument);
  }
}

// Collects what a watch reports.
struct WatchLog {
  std::mutex mu;
  std::vector<std::string> events;  // "PUT key=value@rev" / "DELETE key@rev"
  std::vector<std::string> snapshots;
  size_t size() {
    std::lock_guard l(mu);
    return events.size();
  }
  std::vector<std::string> copy() {
    std::lock_guard l(mu);
    return events;
  }
  EtcdWatchCallbacks Callbacks(const std::string& prefix) {
    EtcdWatchCallbacks cb;
    cb.on_events = [this, prefix](const std::vector<WatchEvent>& evs) {
      std::lock_guard l(mu);
      for (const auto& e : evs) {
        std::string key = e.kv.key.substr(prefix.size());
        events.push_back(e.type == WatchEvent::Type::kPut ? "PUT " + key + "=" + e.kv.value
                                                          : "DELETE " + key);
      }
    };
    cb.on_compacted = [this, prefix](const RangeResult& snap, int64_t) {
      std::lock_guard l(mu);
      std::string s;
      for (const auto& kv : snap.kvs) s += kv.key.substr(prefix.size()) + "=" + kv.value + ";";
      snapshots.push_back(s);
    };
    return cb;
  }
};

TEST(EtcdWatchTest, SeesPutsAndDeletesAndResumesAfterEtcdRestarts) {
  tidemq::testing::EtcdServer etcd;
  ASSERT_TRUE(etcd.Start().ok());
  EtcdClient client(EtcdClientOptions{{etcd.endpoint()}, 5000, 2000});
  std::string prefix = "/w/";
  WatchLog log;
  EtcdWatchOptions o;
  o.endpoints = {etcd.endpoint()};
  o.prefix = prefix;
  o.min_backoff_ms = 20;
  o.max_backoff_ms = 200;
  EtcdWatch watch(o, log.Callbacks(prefix));
  watch.Start();
  ASSERT_TRUE(Eventually([&] { return watch.created_count() == 1; }));
  ASSERT_TRUE(client.Put(prefix + "a", "1").ok());
  ASSERT_TRUE(client.Put("/other", "x").ok());  // outside the prefix
  ASSERT_TRUE(client.Delete(prefix + "a").ok());
  ASSERT_TRUE(Eventually([&] { return log.size() == 2; }));
  EXPECT_EQ(log.copy(), (std::vector<std::string>{"PUT a=1", "DELETE a"}));

  ASSERT_TRUE(etcd.Restart().ok());
  // Written before the watch reconnected: it must still arrive, once.
  ASSERT_TRUE(client.Put(prefix + "b", "2").ok());
  ASSERT_TRUE(Eventually([&] { return watch.created_count() >= 2 && log.size() >= 3; }));
  ASSERT_TRUE(client.Put(prefix + "c", "3").ok());
  ASSERT_TRUE(Eventually([&] { return log.size() >= 4; }));
  EXPECT_EQ(log.copy(), (std::vector<std::string>{"PUT a=1", "DELETE a", "PUT b=2", "PUT c=3"}));
  auto t0 = steady_clock::now();
  watch.Stop();
  EXPECT_LT(steady_clock::now() - t0, std::chrono::seconds(2));  // prompt, not a timeout
}

TEST(EtcdWatchTest, TriesTheNextEndpointWhenOneIsDead) {
  tidemq::testing::EtcdServer etcd;
  ASSERT_TRUE(etcd.Start().ok());
  EtcdClient client(EtcdClientOptions{{etcd.endpoint()}, 5000, 2000});
  WatchLog log;
  EtcdWatchOptions o;
  o.endpoints = {"127.0.0.1:" + std::to_string(tidemq::testing::FreeLoopbackPort()),
                 etcd.endpoint()};
  o.prefix = "/e/";
  o.min_backoff_ms = 10;
  EtcdWatch watch(o, log.Callbacks(o.prefix));
  watch.Start();
  ASSERT_TRUE(Eventually([&] { return watch.created_count() == 1; }));
  ASSERT_TRUE(client.Put("/e/k", "v").ok());
  ASSERT_TRUE(Eventually([&] { return log.size() == 1; }));
  EXPECT_EQ(log.copy(), (std::vector<std::string>{"PUT k=v"}));
}

TEST(EtcdServerTest, MissingBinaryNamesTheInstallScript) {
  setenv("TIDEMQ_ETCD_BIN", "/nonexistent/etcd", 1);
  tidemq::testing::EtcdServer etcd;
  Status st = etcd.Start();
  unsetenv("TIDEMQ_ETCD_BIN");
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_NE(st.message().find("scripts/install-deps.sh"), std::string::npos) << st.ToString();
}

TEST(EtcdWatchTest, CompactedStartRevisionIsReportedWithASnapshot) {
  tidemq::testing::EtcdServer etcd;
  ASSERT_TRUE(etcd.Start().ok());
  EtcdClient client(EtcdClientOptions{{etcd.endpoint()}, 5000, 2000});
  std::string prefix = "/c/";
  auto first = client.Put(prefix + "a", "1");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(client.Put(prefix + "a", "2").ok());
  auto last = client.Put(prefix + "b", "3");
  ASSERT_TRUE(client.Compact(*last).ok());
  WatchLog log;
  EtcdWatchOptions o;
  o.endpoints = {etcd.endpoint()};
  o.prefix = prefix;
  o.start_revision = *first;  // compacted away
  EtcdWatch watch(o, log.Callbacks(prefix));
  watch.Start();
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard l(log.mu);
    return !log.snapshots.empty();
  }));
  {
    std::lock_guard l(log.mu);
    EXPECT_EQ(log.snapshots[0], "a=2;b=3;");
  }
  ASSERT_TRUE(client.Put(prefix + "c", "4").ok());
  ASSERT_TRUE(Eventually([&] { return log.size() == 1; }));
  EXPECT_EQ(log.copy(), (std::vector<std::string>{"PUT c=4"}));
}

}  // namespace
}  // namespace tidemq::cluster
