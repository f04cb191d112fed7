// GroupRegistry (broker/core/group_registry.h) on its own, over a real store in a temporary
// directory with a ManualClock: no ConsumerManager, no socket. A second registry over the
// same store plays the broker's next start (Load reads what the first one appended); a
// fault-injecting file system under the CommitLog plays a record that cannot be stored.
#include "broker/core/group_registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "store/store.h"
#include "tests/store/fault_fs.h"

namespace tidemq::broker {
namespace {

constexpr int64_t kHour = 3600 * 1000;

class GroupRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tidemq-registry-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store::StoreOptions so;
    so.data_dir = dir_;
    so.segment_bytes = 4096;
    so.retention_ms = kHour;
    so.clock = &clock_;
    so.fs = &fs_;
    auto store = store::Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    topics_ = std::make_unique<TopicManager>(store_.get());
    ASSERT_TRUE(topics_->Load().ok());
    ASSERT_TRUE(topics_->Create("orders", 1, clock_.NowMs()).ok());
    ASSERT_TRUE(topics_->Create("other", 1, clock_.NowMs()).ok());
    registry_ = NewRegistry();
  }
  void TearDown() override {
    registry_.reset();
    topics_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A registry as the next broker start would make it: loaded from what is stored.
  std::unique_ptr<GroupRegistry> NewRegistry() {
    auto r = std::make_unique<GroupRegistry>(store_.get(), topics_.get(), &clock_, config_);
    Status st = r->Load();
    EXPECT_TRUE(st.ok()) << st.ToString();
    return r;
  }
  // Waits until every metadata append made so far is durable (the writer keeps their order).
  void Settle() {
    store::MetaChange change;
    change.Put("test/settle", std::to_string(settles_++));
    ASSERT_TRUE(store_->AppendMetaAndWait(std::move(change)).ok());
  }
  void Send(const std::string& topic, int n, size_t body_bytes = 16) {
    std::vector<store::Record> records;
    for (int i = 0; i < n; ++i) {
      store::Record r;
      r.topic = topic;
      r.message_id = "m" + std::to_string(sent_++);
      r.body = std::string(body_bytes, 'x');
      records.push_back(std::move(r));
    }
    ASSERT_TRUE(store_->AppendAndWait(std::move(records)).ok());
  }
  static GroupConfig Config(const std::string& name, uint32_t max_attempts = 3) {
    GroupConfig c;
    c.name = name;
    c.max_attempts = max_attempts;
    c.retry = *RetryPolicy::Parse("1s,5s");
    return c;
  }
  // Sets a queue state the way receives and acks leave it (changed since the last flush).
  void SetState(GroupRegistry& r, const std::string& group, const QueueKey& key, int64_t committed,
                int64_t next, std::map<int64_t, uint32_t> attempts = {}) {
    auto g = r.Find(group);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    MutexLock lock((*g)->mu);
    QueueState& st = (*g)->queues[key];
    st.key = key;
    st.committed = committed;
    st.next = next;
    for (const auto& [off, n] : attempts) st.attempts[off] = n;
    st.dirty = true;
  }
  // The stored offsets of (group, key), when there are.
  std::optional<StoredQueueOffsets> Stored(const std::string& group, const QueueKey& key) {
    auto v = store_->GetMeta(OffsetKey(group, key));
    EXPECT_TRUE(v.ok());
    if (!v.ok() || !*v) return std::nullopt;
    auto decoded = DecodeQueueOffsets(**v);
    EXPECT_TRUE(decoded.ok());
    return decoded.ok() ? std::optional(*decoded) : std::nullopt;
  }
  std::vector<std::string> OffsetKeys() {
    std::vector<std::string> out;
    auto all = store_->ScanMeta(kOffsetPrefix);
    EXPECT_TRUE(all.ok());
    for (const auto& [k, _] : *all) out.push_back(k);
    return out;
  }
  // A copy of the loaded state of (group, key), when there is one.
  std::optional<QueueState> StateOf(GroupRegistry& r, const std::string& group,
                                    const QueueKey& key) {
    auto g = r.Find(group);
    if (!g.ok()) return std::nullopt;
    MutexLock lock((*g)->mu);
    auto it = (*g)->queues.find(key);
    if (it == (*g)->queues.end()) return std::nullopt;
    return it->second;
  }

  std::string dir_;
  ManualClock clock_;
  // Fails the CommitLog's writes when a test asks (never by default).
  store::testing::FaultFileSystem fs_{FileSystem::Default(), "commitlog"};
  BrokerConfig config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<GroupRegistry> registry_;
  int sent_ = 0;
  int settles_ = 0;
  const QueueKey orders0_{"orders", 0, ""};
  const QueueKey other0_{"other", 0, ""};
};

TEST_F(GroupRegistryTest, CreatedGroupsAreFoundAndListed) {
  ASSERT_TRUE(registry_->Create(Config("b")).ok());
  ASSERT_TRUE(registry_->Create(Config("a")).ok());
  auto a = registry_->Find("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->config.name, "a");
  EXPECT_EQ((*a)->config.created_ms, clock_.NowMs());
  auto list = registry_->List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "a");
  EXPECT_EQ(list[1].name, "b");
  EXPECT_EQ(registry_->All().size(), 2u);
  EXPECT_EQ(registry_->Find("c").status().code(), Code::kGroupNotFound);
  EXPECT_EQ(registry_->Find("bad name!").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(registry_->Create(Config("bad name!")).status().code(), Code::kInvalidArgument);
}

TEST_F(GroupRegistryTest, NewGroupTakesTheDefaultMaxAttemptsWithinBounds) {
  config_.default_max_attempts = 7;
  auto created = registry_->Create(Config("g", /*max_attempts=*/0));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->max_attempts, 7u);
  EXPECT_EQ(registry_->Create(Config("h", 1001)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(registry_->Find("h").status().code(), Code::kGroupNotFound);
}

TEST_F(GroupRegistryTest, UpdateChangesRetrySettingsOnlyAndIsLoadedAgain) {
  ASSERT_TRUE(registry_->Create(Config("g")).ok());
  GroupConfig fifo = Config("g");
  fifo.fifo = true;
  EXPECT_EQ(registry_->Create(fifo).status().code(), Code::kFailedPrecondition);
  GroupConfig broadcast = Config("g");
  broadcast.broadcast = true;
  EXPECT_EQ(registry_->Create(broadcast).status().code(), Code::kFailedPrecondition);

  const int64_t created_ms = clock_.NowMs();
  clock_.AdvanceMs(5000);
  GroupConfig update = Config("g", 9);
  update.retry = *RetryPolicy::Parse("2s");
  std::promise<Status> durable;
  auto updated = registry_->Create(update, [&](const Status& st) { durable.set_value(st); });
  ASSERT_TRUE(updated.ok());
  ASSERT_TRUE(durable.get_future().get().ok());
  EXPECT_EQ(updated->max_attempts, 9u);
  EXPECT_EQ(updated->created_ms, created_ms);  // the group's, not the update's
  EXPECT_FALSE(updated->fifo);

  auto next = NewRegistry();
  auto list = next->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].max_attempts, 9u);
  EXPECT_EQ(list[0].retry, *RetryPolicy::Parse("2s"));
  EXPECT_EQ(list[0].created_ms, created_ms);
}

TEST_F(GroupRegistryTest, DeletionDropsTheGroupAndItsOffsetsButNotAHoldersState) {
  ASSERT_TRUE(registry_->Create(Config("g")).ok());
  ASSERT_TRUE(registry_->Create(Config("keep")).ok());
  Send("orders", 2);
  SetState(*registry_, "g", orders0_, 2, 2);
  SetState(*registry_, "keep", orders0_, 1, 1);
  ASSERT_TRUE(registry_->FlushOffsets(/*wait=*/true).ok());
  ASSERT_EQ(OffsetKeys().size(), 2u);

  auto held = registry_->Find("g");
  ASSERT_TRUE(held.ok());
  std::promise<Status> durable;
  ASSERT_TRUE(registry_->Delete("g", [&](const Status& st) { durable.set_value(st); }).ok());
  ASSERT_TRUE(durable.get_future().get().ok());
  EXPECT_EQ(registry_->Find("g").status().code(), Code::kGroupNotFound);
  EXPECT_EQ(registry_->Delete("g").code(), Code::kGroupNotFound);
  EXPECT_EQ((*held)->config.name, "g");  // a receive that found it goes on with it
  EXPECT_EQ(OffsetKeys(), std::vector<std::string>{OffsetKey("keep", orders0_)});

  auto next = NewRegistry();
  EXPECT_EQ(next->Find("g").status().code(), Code::kGroupNotFound);
  ASSERT_TRUE(next->Find("keep").ok());
  ASSERT_TRUE(StateOf(*next, "keep", orders0_).has_value());
}

TEST_F(GroupRegistryTest, ANewGroupWhoseRecordCannotBeStoredIsGoneAgain) {
  ASSERT_TRUE(registry_->Create(Config("kept")).ok());
  Settle();
  fs_.FailWritesAfter(0);
  std::promise<Status> durable;
  auto created = registry_->Create(Config("g"), [&](const Status& st) { durable.set_value(st); });
  ASSERT_TRUE(created.ok());  // usable at once
  Status st = durable.get_future().get();
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(registry_->Find("g").status().code(), Code::kGroupNotFound);
  EXPECT_TRUE(registry_->Find("kept").ok());  // an existing group stays
}

TEST_F(GroupRegistryTest, FindOrCreateMakesAGroupWithTheDefaultsOnlyWhenAllowed) {
  config_.auto_create_groups = false;
  auto refused = registry_->FindOrCreate("g");
  EXPECT_EQ(refused.status().code(), Code::kGroupNotFound);
  EXPECT_NE(refused.status().message().find("tidemq group create g"), std::string::npos);
  EXPECT_EQ(registry_->FindOrCreate("bad name!").status().code(), Code::kInvalidArgument);

  config_.auto_create_groups = true;
  config_.default_max_attempts = 5;
  config_.default_retry = *RetryPolicy::Parse("3s");
  auto made = registry_->FindOrCreate("g");
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)->config.max_attempts, 5u);
  EXPECT_EQ((*made)->config.retry, *RetryPolicy::Parse("3s"));
  EXPECT_FALSE((*made)->config.broadcast);
  auto again = registry_->FindOrCreate("g");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), made->get());  // the same group, not a second one
}

TEST_F(GroupRegistryTest, EachLoadStartsTheNextEpoch) {
  const uint64_t first = registry_->epoch();
  // A new data directory starts at the wall clock's seconds.
  EXPECT_EQ(first, static_cast<uint64_t>(clock_.NowMs() / 1000));
  auto stored = store_->GetMeta(kEpochKey);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(**stored, std::to_string(first));
  EXPECT_EQ(NewRegistry()->epoch(), first + 1);
  EXPECT_EQ(NewRegistry()->epoch(), first + 2);
}

TEST_F(GroupRegistryTest, AnEpochRecordThatIsNotANumberStopsTheStart) {
  store::MetaChange change;
  change.Put(kEpochKey, "twelve");
  ASSERT_TRUE(store_->AppendMetaAndWait(std::move(change)).ok());
  GroupRegistry next(store_.get(), topics_.get(), &clock_, config_);
  Status st = next.Load();
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("twelve"), std::string::npos);
}

TEST_F(GroupRegistryTest, LoadSkipsAndCountsRecordsThatDoNotParse) {
  ASSERT_TRUE(registry_->Create(Config("g")).ok());
  store::MetaChange change;
  change.Put(std::string(kGroupPrefix) + "broken", "[not an object]");
  change.Put(std::string(kOffsetPrefix) + "no-queue-here", "1");
  change.Put(OffsetKey("g", orders0_), "{\"committed\": \"x\"}");
  ASSERT_TRUE(store_->AppendMetaAndWait(std::move(change)).ok());
  auto next = NewRegistry();
  EXPECT_EQ(next->malformed_skipped(), 3);
  EXPECT_TRUE(next->Find("g").ok());
  EXPECT_EQ(next->Find("broken").status().code(), Code::kGroupNotFound);
  EXPECT_FALSE(StateOf(*next, "g", orders0_).has_value());
}

TEST_F(GroupRegistryTest, LoadRestoresOffsetsAndAttemptsOfDeliveredOffsets) {
  ASSERT_TRUE(registry_->Create(Config("g")).ok());
  Send("orders", 4);
  // 1 and 2 delivered, unsettled (2 twice); 0 acked; 3 never delivered.
  SetState(*registry_, "g", orders0_, 1, 3, {{0, 1}, {1, 1}, {2, 2}});
  ASSERT_TRUE(registry_->FlushOffsets(/*wait=*/true).ok());
  EXPECT_EQ(registry_->offset_flushes(), 1);
  auto next = NewRegistry();
  auto st = StateOf(*next, "g", orders0_);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->committed, 1);
  EXPECT_EQ(st->next, 1);  // offsets above committed are delivered again
  EXPECT_EQ(st->delivered_before, 3);
  // Attempts below committed are not kept.
  EXPECT_EQ(st->attempts, (std::unordered_map<int64_t, uint32_t>{{1, 1}, {2, 2}}));
  EXPECT_FALSE(st->dirty);
  EXPECT_EQ(store_->MaxQueueOffset("orders", 0), 4);  // nothing to raise

  // A count for an offset never delivered (at or above `next`) means nothing: not loaded.
  StoredQueueOffsets odd;
  odd.committed = 1;
  odd.next = 3;
  odd.attempts = {{2, 2}, {3, 4}};
  store::MetaChange change;
  change.Put(OffsetKey("g", orders0_), EncodeQueueOffsets(odd));
  ASSERT_TRUE(store_->AppendMetaAndWait(std::move(change)).ok());
  st = StateOf(*NewRegistry(), "g", orders0_);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->attempts, (std::unordered_map<int64_t, uint32_t>{{2, 2}}));
}

TEST_F(GroupRegistryTest, AFlushWritesOnlyTheQueuesThatChanged) {
  ASSERT_TRUE(registry_->Create(Config("g")).ok());
  Send("orders", 5);
  Send("other", 5);
  SetState(*registry_, "g", orders0_, 1, 1);
  SetState(*registry_, "g", other0_, 2, 2);
  ASSERT_TRUE(registry_->FlushOffsets(/*wait=*/true).ok());
  EXPECT_EQ(Stored("g", orders0_)->committed, 1);
  EXPECT_EQ(Stored("g", other0_)->committed, 2);
  {
    // An ack that marks its queue changed, and a change nobody marked (never written).
    auto g = *registry_->Find("g");
    MutexLock lock(g->mu);
    g->queues[orders0_].committed = 3;
    g->queues[orders0_].dirty = true;
    g->queues[other0_].committed = 4;
  }
  ASSERT_TRUE(registry_->FlushOffsets(/*wait=*/true).ok());
  EXPECT_EQ(Stored("g", orders0_)->committed, 3);
  EXPECT_EQ(Stored("g", other0_)->committed, 2);
  // Nothing changed: complete at once, nothing written.
  ASSERT_TRUE(registry_->FlushOffsets(/*wait=*/false).ok());
  EXPECT_EQ(registry_->offset_flushes(), 3);
  EXPECT_EQ(Stored("g", other0_)->committed, 2);
}

TEST_F(GroupRegistryTest, LoadRaisesAQueueWhoseEndIsBelowWhatAGroupPassed) {
  ASSERT_TRUE(registry_->Create(Config("g")).ok());
  ASSERT_TRUE(registry_->Create(Config("h")).ok());
  Send("orders", 2);
  // The log lost its tail: the groups had passed offsets the queue no longer has.
  SetState(*registry_, "g", orders0_, 5, 5);
  SetState(*registry_, "h", orders0_, 3, 7);  // delivered up to 6
  ASSERT_TRUE(registry_->FlushOffsets(/*wait=*/true).ok());
  ASSERT_EQ(store_->MaxQueueOffset("orders", 0), 2);
  auto next = NewRegistry();
  // The next message takes the offset after the highest any group passed.
  store::Record r;
  r.topic = "orders";
  r.message_id = "after";
  auto sent = store_->AppendAndWait({r});
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_EQ(sent->at(0).queue_offset, 7);
  EXPECT_EQ(StateOf(*next, "g", orders0_)->committed, 5);
  EXPECT_EQ(next->lost_at_start(), 0);
}

TEST_F(GroupRegistryTest, LoadMovesOffsetsRetentionDeletedUpToTheQueueStart) {
  ASSERT_TRUE(registry_->Create(Config("g")).ok());
  Send("orders", 40, 300);  // about a dozen records per 4 KiB segment
  SetState(*registry_, "g", orders0_, 2, 2);
  ASSERT_TRUE(registry_->FlushOffsets(/*wait=*/true).ok());
  clock_.AdvanceMs(2 * kHour);
  Send("orders", 3, 300);
  auto deleted = store_->RunRetention();
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_GT(*deleted, 0);
  const int64_t start = store_->MinQueueOffset("orders", 0);
  ASSERT_GT(start, 2);

  auto next = NewRegistry();
  auto st = StateOf(*next, "g", orders0_);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->committed, start);
  EXPECT_EQ(st->lost, start - 2);
  EXPECT_TRUE(st->dirty);  // the next flush persists the move
  EXPECT_EQ(next->lost_at_start(), start - 2);
}

TEST_F(GroupRegistryTest, TopicDeletionDropsTheGroupsStateAndOffsetsInIt) {
  ASSERT_TRUE(registry_->Create(Config("g")).ok());
  Send("orders", 2);
  Send("other", 2);
  SetState(*registry_, "g", orders0_, 1, 2);
  SetState(*registry_, "g", other0_, 1, 1);
  {
    auto g = *registry_->Find("g");
    MutexLock lock(g->mu);
    g->subscribed.emplace("orders", "");
    g->subscribed.emplace("other", "");
    // A lease in the deleted topic goes with its queue.
    QueueState& st = g->queues[orders0_];
    g->leases.Grant(st, 1, Lease{clock_.MonotonicMs() + 1000, 1, 1, LogOffset(0)});
  }
  ASSERT_TRUE(registry_->FlushOffsets(/*wait=*/true).ok());
  registry_->OnTopicDeleted("orders");
  Settle();
  EXPECT_FALSE(StateOf(*registry_, "g", orders0_).has_value());
  EXPECT_TRUE(StateOf(*registry_, "g", other0_).has_value());
  {
    auto g = *registry_->Find("g");
    MutexLock lock(g->mu);
    EXPECT_EQ(g->subscribed, (std::set<std::pair<std::string, std::string>>{{"other", ""}}));
    EXPECT_EQ(g->leases.size(), 0u);
  }
  EXPECT_EQ(OffsetKeys(), std::vector<std::string>{OffsetKey("g", other0_)});
}

TEST_F(GroupRegistryTest, LoadDropsTheOffsetsOfATopicDeletedBeforeThem) {
  ASSERT_TRUE(registry_->Create(Config("g")).ok());
  Send("orders", 2);
  SetState(*registry_, "g", orders0_, 2, 2);
  ASSERT_TRUE(registry_->FlushOffsets(/*wait=*/true).ok());
  // A crash between the topic's deletion and that of the groups' offsets in it.
  std::promise<Status> deleted;
  ASSERT_TRUE(topics_->Delete("orders", [&](const Status& st) { deleted.set_value(st); }).ok());
  ASSERT_TRUE(deleted.get_future().get().ok());
  auto next = NewRegistry();
  Settle();
  EXPECT_FALSE(StateOf(*next, "g", orders0_).has_value());
  EXPECT_TRUE(OffsetKeys().empty());
  // Created again, the topic starts with no offsets of the old one.
  ASSERT_TRUE(topics_->Create("orders", 1, clock_.NowMs()).ok());
  EXPECT_FALSE(StateOf(*NewRegistry(), "g", orders0_).has_value());
}

}  // namespace
}  // namespace tidemq::broker
