// Log replication over the network, in one process: a master store served by a
// ReplicationSource, replica stores pulling with ReplicaFetchers (docs/replication.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <thread>
#include <utility>

#include <boost/asio.hpp>

#include "cluster/epochs.h"
#include "cluster/repl_protocol.h"
#include "cluster/replica_fetcher.h"
#include "cluster/replication_source.h"
#include "common/clock.h"
#include "store/file_names.h"
#include "store/store.h"
#include "tests/common/eventually.h"
#include "tests/store/fault_fs.h"
#include "tests/store/test_util.h"

namespace tidemq::cluster {
namespace {

using ::tidemq::testing::Eventually;

using store::testing::AppendOne;
using store::testing::MakeMessage;
using store::testing::SmallOptions;
using store::testing::TempDir;

std::map<std::string, std::string> SegmentFiles(const std::string& data_dir) {
  std::map<std::string, std::string> out;
  const std::string dir = JoinPath(data_dir, "commitlog");
  auto names = FileSystem::Default()->ListDir(dir);
  EXPECT_TRUE(names.ok());
  for (const auto& name : names.ok() ? *names : std::vector<std::string>()) {
    out[name] = *FileSystem::Default()->ReadFile(JoinPath(dir, name));
  }
  return out;
}

LogOffset End(const store::Store& s) { return s.ConfirmedEnd(); }

// A master: its store, its replication source, epoch 1 from the log's start.
struct Master {
  explicit Master(int min_copies = 1, Clock* clock = nullptr, int64_t ack_timeout_ms = 3000)
      : Master(Options(min_copies, clock, ack_timeout_ms)) {}
  static ReplicationSourceOptions Options(int min_copies, Clock* clock, int64_t ack_timeout_ms) {
    ReplicationSourceOptions o;
    o.group = "g1";
    o.min_copies = min_copies;
    o.clock = clock;
    o.ack_timeout_ms = ack_timeout_ms;
    return o;
  }
  explicit Master(const ReplicationSourceOptions& o) {
    source = std::make_unique<ReplicationSource>(o);
    auto opened = store::Store::Open(SmallOptions(dir.path()), {source.get()});
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    store = std::move(opened).value();
    BecomeMaster(1);
    EXPECT_TRUE(source->Start(store.get()).ok());
  }
  void BecomeMaster(int64_t epoch) {
    EXPECT_TRUE(store->AppendMetaAndWait(EpochChange(epoch, End(*store))).ok());
    source->SetEpoch(epoch, *LoadEpochs(*store));
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(source->port()); }
  ~Master() {
    source->Stop();
    store.reset();
  }
  TempDir dir;
  std::unique_ptr<ReplicationSource> source;
  std::unique_ptr<store::Store> store;
};

struct Replica {
  Replica(const std::string& master, std::string id = "r1", FileSystem* fs = nullptr)
      : id(std::move(id)), fs(fs) {
    Open();
    Follow(master);
  }
  void Open() {
    store::StoreOptions o = SmallOptions(dir.path());
    o.replica = true;
    o.fs = fs;
    auto opened = store::Store::Open(o);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    store = std::move(opened).value();
  }
  void Follow(const std::string& master) {
    ReplicaFetcherOptions o;
    o.group = "g1";
    o.replica_id = id;
    o.master_address = master;
    o.max_fetch_bytes = 2000;  // several chunks per segment
    o.max_wait_ms = 200;
    o.retry_max_ms = 100;
    fetcher = std::make_unique<ReplicaFetcher>(store.get(), o);
    fetcher->Start([this](LogOffset to) { truncate_to.set_value(to); });
  }
  ~Replica() {
    if (fetcher) fetcher->Stop();
  }
  std::string id;
  FileSystem* fs = nullptr;
  TempDir dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<ReplicaFetcher> fetcher;
  std::promise<LogOffset> truncate_to;
};

void Populate(store::Store* s, int n, int first = 0) {
  for (int i = first; i < first + n; ++i) {
    AppendOne(s, MakeMessage(i % 2 ? "orders" : "payments", static_cast<uint32_t>(i % 3),
                             std::string(60 + i % 150, 'x'), "t", {"k" + std::to_string(i)},
                             "id-" + std::to_string(i)));
  }
}

TEST(ReplicationTest, ReplicasFollowTheMasterAsItWrites) {
  Master master;
  Populate(master.store.get(), 50);  // before the replicas come
  Replica r1(master.address(), "r1");
  Replica r2(master.address(), "r2");
  Populate(master.store.get(), 100, 50);  // while they follow
  ASSERT_TRUE(Eventually([&] {
    return End(*r1.store) == End(*master.store) && End(*r2.store) == End(*master.store);
  }));
  EXPECT_EQ(SegmentFiles(r1.dir.path()), SegmentFiles(master.dir.path()));
  EXPECT_EQ(SegmentFiles(r2.dir.path()), SegmentFiles(master.dir.path()));
  EXPECT_EQ(*r1.store->LookupMessageId("id-120", 2), *master.store->LookupMessageId("id-120", 2));
  EXPECT_EQ(*LoadEpochs(*r1.store), *LoadEpochs(*master.store));  // epochs came with the log

  // The master learns what they hold from their next fetch.
  ASSERT_TRUE(Eventually([&] {
    auto replicas = master.source->Replicas();
    return replicas.size() == 2u &&
           std::all_of(replicas.begin(), replicas.end(), [&](const ReplicaInfo& info) {
             return info.connected && info.in_sync && info.written == End(*master.store);
           });
  }));
  const ReplicaProgress p = r1.fetcher->Progress();
  EXPECT_TRUE(p.connected);
  EXPECT_EQ(p.master_epoch, 1);
  EXPECT_GT(p.chunks, 3);
}

TEST(ReplicationTest, SyncAcksWaitForEnoughCopies) {
  ManualClock clock;
  Master master(/*min_copies=*/2, &clock, /*ack_timeout_ms=*/1000);
  // No replica: sends are refused at once, and a record written anyway is not acknowledged.
  EXPECT_EQ(master.source->CanAccept().code(), Code::kNotEnoughReplicas);
  store::AppendResult lonely = AppendOne(master.store.get(), MakeMessage("orders", 0, "a"));
  std::promise<Status> timed_out;
  master.source->WaitReplicated(lonely.log_offset + static_cast<int64_t>(lonely.size),
                                [&](const Status& st) { timed_out.set_value(st); });
  auto timed_out_f = timed_out.get_future();
  EXPECT_EQ(timed_out_f.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  // Consumers do not see it either: one copy is not enough.
  EXPECT_TRUE(master.store->ReadQueue("orders", 0, 0, 10)->empty());
  clock.AdvanceMs(1001);
  EXPECT_EQ(timed_out_f.get().code(), Code::kNotEnoughReplicas);

  Replica r1(master.address());
  ASSERT_TRUE(Eventually([&] { return master.source->CanAccept().ok(); }));
  // Now the replica holds it, so consumers see it.
  ASSERT_TRUE(
      Eventually([&] { return master.store->ReadQueue("orders", 0, 0, 10)->size() == 1u; }));
  store::AppendResult r = AppendOne(master.store.get(), MakeMessage("orders", 0, "b"));
  std::promise<Status> acked;
  master.source->WaitReplicated(r.log_offset + static_cast<int64_t>(r.size),
                                [&](const Status& st) { acked.set_value(st); });
  EXPECT_TRUE(acked.get_future().get().ok());
  // Acknowledged means the replica has it.
  EXPECT_GE(End(*r1.store), r.log_offset + static_cast<int64_t>(r.size));
  EXPECT_EQ(master.store->ReadQueue("orders", 0, 0, 10)->size(), 2u);

  // The replica goes away: it leaves the in-sync set, sends are refused again.
  r1.fetcher->Stop();
  ASSERT_TRUE(Eventually([&] { return !master.source->CanAccept().ok(); }));
}

TEST(ReplicationTest, ADivergedReplicaIsToldWhereToTruncate) {
  Master master;
  Populate(master.store.get(), 30);
  auto replica = std::make_unique<Replica>(master.address());
  ASSERT_TRUE(Eventually([&] { return End(*replica->store) == End(*master.store); }));
  const LogOffset shared = End(*master.store);
  replica->fetcher->Stop();

  // The replica is promoted for a while (epoch 2) and writes what the master never sees;
  // meanwhile the master goes on in epoch 3 (as if it won the next election).
  ASSERT_TRUE(replica->store->Promote().ok());
  ASSERT_TRUE(replica->store->AppendMetaAndWait(EpochChange(2, End(*replica->store))).ok());
  Populate(replica->store.get(), 20, 1000);
  master.BecomeMaster(3);
  Populate(master.store.get(), 20, 2000);

  // Back as a replica: the master tells it where the logs part.
  replica->store.reset();
  {
    store::StoreOptions o = SmallOptions(replica->dir.path());
    o.replica = true;
    replica->store = std::move(store::Store::Open(o)).value();
  }
  replica->truncate_to = std::promise<LogOffset>();
  replica->Follow(master.address());
  auto to = replica->truncate_to.get_future();
  ASSERT_EQ(to.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(to.get(), shared);
  replica->fetcher->Stop();
  replica->store.reset();

  store::StoreOptions o = SmallOptions(replica->dir.path());
  o.replica = true;
  ASSERT_TRUE(store::Store::TruncateLog(o, shared).ok());
  replica->Open();
  replica->Follow(master.address());
  ASSERT_TRUE(Eventually([&] { return End(*replica->store) == End(*master.store); }));
  EXPECT_EQ(SegmentFiles(replica->dir.path()), SegmentFiles(master.dir.path()));
  EXPECT_TRUE(replica->store->LookupMessageId("id-1005", 2)->empty());
  EXPECT_EQ(replica->store->LookupMessageId("id-2005", 2)->size(), 1u);
}

// A file system whose commit-log writes take `delay_ms` each (a slow disk).
class SlowFileSystem final : public testing::ForwardingFileSystem {
 public:
  SlowFileSystem() : ForwardingFileSystem(FileSystem::Default()) {}
  std::atomic<int64_t> delay_ms{0};
  Result<std::unique_ptr<File>> Open(const std::string& path, bool create) override {
    ASSIGN_OR_RETURN(auto file, ForwardingFileSystem::Open(path, create));
    if (path.find("commitlog") == std::string::npos) return file;
    return std::unique_ptr<File>(std::make_unique<SlowFile>(std::move(file), &delay_ms));
  }

 private:
  class SlowFile final : public testing::ForwardingFile {
   public:
    SlowFile(std::unique_ptr<File> base, std::atomic<int64_t>* delay)
        : ForwardingFile(std::move(base)), delay_(delay) {}
    Status Write(uint64_t offset, std::string_view data) override {
      if (int64_t d = delay_->load(); d > 0) std::this_thread::sleep_for(std::chrono::milliseconds(d));
      return ForwardingFile::Write(offset, data);
    }

   private:
    std::atomic<int64_t>* delay_;
  };
};

// A replica that stays connected but cannot keep up leaves the in-sync set once it has not
// been caught up for max_lag_ms, and rejoins when it is again.
TEST(ReplicationTest, ASlowReplicaLeavesTheInSyncSetAndRejoins) {
  ManualClock clock;
  ReplicationSourceOptions o;
  o.group = "g1";
  o.min_copies = 2;
  o.max_lag_ms = 1000;
  o.clock = &clock;
  Master master(o);
  SlowFileSystem fs;
  Replica r1(master.address(), "r1", &fs);
  ASSERT_TRUE(Eventually([&] { return master.source->CanAccept().ok(); }));

  fs.delay_ms = 300;  // each chunk takes 300 ms to write: the replica falls behind
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; writing; ++i) {
      Populate(master.store.get(), 1, i);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  // Still connected, but not caught up for longer than max_lag_ms of the master's clock.
  ASSERT_TRUE(Eventually([&] {
    clock.AdvanceMs(100);
    auto replicas = master.source->Replicas();
    return !replicas.empty() && replicas[0].connected && !replicas[0].in_sync;
  }));
  EXPECT_EQ(master.source->CanAccept().code(), Code::kNotEnoughReplicas);
  writing = false;
  writer.join();
  fs.delay_ms = 0;  // fast again: it catches up and rejoins
  ASSERT_TRUE(Eventually([&] { return master.source->CanAccept().ok(); }));
  ASSERT_TRUE(Eventually([&] { return End(*r1.store) == End(*master.store); }));
}

// A replica whose disk fills up leaves the in-sync set (sync sends are refused), and comes
// back by itself once there is room: it catches up and the master takes sends again.
TEST(ReplicationTest, AReplicaWithAFullDiskDropsOutAndComesBack) {
  Master master(/*min_copies=*/2);
  store::testing::FaultFileSystem fs;
  Replica r1(master.address(), "r1", &fs);
  ASSERT_TRUE(Eventually([&] { return master.source->CanAccept().ok(); }));

  fs.SetDiskUsage(/*free_bytes=*/1 << 20, /*total=*/1ll << 40);  // below the store's reserve
  // The store measures free space at most every 100 ms of its (system) clock: let it see this.
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  Populate(master.store.get(), 20);  // written on the master; the replica cannot take them
  ASSERT_TRUE(Eventually([&] { return !master.source->CanAccept().ok(); }))
      << "replica end " << End(*r1.store).value() << " master end " << End(*master.store).value()
      << " error " << r1.fetcher->Progress().last_error << " in sync "
      << master.source->Replicas()[0].in_sync;
  EXPECT_EQ(master.source->CanAccept().code(), Code::kNotEnoughReplicas);
  EXPECT_NE(r1.fetcher->Progress().last_error.find("disk"), std::string::npos)
      << r1.fetcher->Progress().last_error;
  EXPECT_LT(End(*r1.store), End(*master.store));

  fs.SetDiskUsage(-1, 0);  // room again
  ASSERT_TRUE(Eventually([&] { return master.source->CanAccept().ok(); }));
  ASSERT_TRUE(Eventually([&] { return End(*r1.store) == End(*master.store); }));
  EXPECT_EQ(SegmentFiles(r1.dir.path()), SegmentFiles(master.dir.path()));
}

// A peer that speaks garbage: the master drops it and keeps serving the others.
TEST(ReplicationTest, GarbageFromAReplicaClosesOnlyItsConnection) {
  Master master;
  Replica good(master.address());
  namespace asio = boost::asio;
  asio::io_context io;
  for (const std::string& junk :
       {std::string("\xff\xff\xff\xff garbage", 13), std::string("\x05\x00\x00\x00\x01\x02\x03\x04\x09", 9),
        EncodeFrame(ReplKind::kChunk, "not for a master"), EncodeFetch(Fetch{})}) {
    asio::ip::tcp::socket s(io);
    s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), master.source->port()));
    asio::write(s, asio::buffer(junk));
    // The master answers with an error frame (or just closes) and hangs up.
    std::string got(1 << 16, '\0');
    boost::system::error_code ec;
    size_t n = 0;
    while (!ec) n += s.read_some(asio::buffer(got.data() + n, got.size() - n), ec);
    EXPECT_EQ(ec, asio::error::eof) << ec.message();
  }
  Populate(master.store.get(), 20);
  ASSERT_TRUE(Eventually([&] { return End(*good.store) == End(*master.store); }));
}

// A "master" that answers with torn or garbled frames: the replica writes nothing, says why, and
// keeps trying (a real master later would be followed).
TEST(ReplicationTest, TornFramesFromTheMasterWriteNothing) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t port = acceptor.local_endpoint().port();
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::thread fake([&] {
    Welcome w{1, kNoLogOffset, LogOffset(0), LogOffset(100)};
    Chunk c;
    c.epoch = 1;
    c.bytes = std::string(80, 'x');  // not records
    const std::vector<std::string> answers = {
        EncodeWelcome(w).substr(0, 10),                        // cut short
        EncodeWelcome(w) + EncodeChunk(c),                     // a chunk of garbage records
        std::string("\x10\x00\x00\x00garbage-garbage-"),  // bad CRC
    };
    while (!stop) {
      asio::ip::tcp::socket s(io);
      boost::system::error_code ec;
      acceptor.accept(s, ec);
      if (ec || stop) break;
      std::string hello(256, '\0');
      s.read_some(asio::buffer(hello), ec);
      asio::write(s, asio::buffer(answers[served++ % answers.size()]), ec);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  TempDir dir;
  store::StoreOptions so = SmallOptions(dir.path());
  so.replica = true;
  auto st = std::move(store::Store::Open(so)).value();
  ReplicaFetcherOptions o;
  o.group = "g1";
  o.replica_id = "r";
  o.master_address = "127.0.0.1:" + std::to_string(port);
  o.retry_max_ms = 20;
  ReplicaFetcher fetcher(st.get(), o);
  fetcher.Start(nullptr);
  ASSERT_TRUE(Eventually([&] { return served.load() >= 6; }));
  EXPECT_FALSE(fetcher.Progress().last_error.empty());
  EXPECT_EQ(End(*st), LogOffset(0));  // nothing written
  fetcher.Stop();
  stop = true;
  boost::system::error_code ec;
  asio::ip::tcp::socket poke(io);
  poke.connect(acceptor.local_endpoint(), ec);  // unblock accept
  fake.join();
}

TEST(ReplicationTest, AReplicaOfAnotherGroupIsRefused) {
  Master master;
  Replica stranger(master.address());
  (void)stranger;  // group g1: accepted
  ReplicaFetcherOptions o;
  o.group = "g2";
  o.replica_id = "x";
  o.master_address = master.address();
  TempDir dir;
  store::StoreOptions so = SmallOptions(dir.path());
  so.replica = true;
  auto st = std::move(store::Store::Open(so)).value();
  ReplicaFetcher fetcher(st.get(), o);
  fetcher.Start(nullptr);
  ASSERT_TRUE(Eventually([&] { return !fetcher.Progress().last_error.empty(); }));
  EXPECT_NE(fetcher.Progress().last_error.find("group"), std::string::npos)
      << fetcher.Progress().last_error;
  fetcher.Stop();
}

}  // namespace
}  // namespace tidemq::cluster
