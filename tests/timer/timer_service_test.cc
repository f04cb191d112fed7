#include "timer/timer_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "tests/store/test_util.h"
#include "tests/timer/timer_test_util.h"

namespace tidemq::timer {
namespace {

using store::testing::TempDir;
using testing::Cancel;
using testing::FakeLog;
using testing::RePut;
using testing::Scheduled;

constexpr int64_t kStart = 1'700'000'000'000;
constexpr int64_t kDay = 24 * 3600 * 1000;

std::unique_ptr<TimerService> OpenService(const std::string& dir, int64_t start,
                                          TimerServiceOptions o = {}) {
  o.index_path = dir + "/timer";
  o.start_ms = start;
  auto s = TimerService::Open(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

std::vector<DueTimer> Advance(TimerService* s, int64_t now) {
  auto r = s->Advance(now);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<DueTimer>{};
}

std::vector<int64_t> Offsets(const std::vector<DueTimer>& fired) {
  std::vector<int64_t> out;
  for (const DueTimer& t : fired) out.push_back(t.log_offset.value());
  return out;
}

TEST(TimerServiceTest, SchedulesNearAndFarFiresInOrderAndCancels) {
  TempDir dir;
  TimerServiceOptions o;
  o.window_ms = 10'000;
  auto s = OpenService(dir.path(), kStart, o);
  FakeLog log;
  const LogOffset far = log.Append(s.get(), Scheduled("far", kStart + 30 * kDay));
  const LogOffset b = log.Append(s.get(), Scheduled("b", kStart + 500));
  const LogOffset a = log.Append(s.get(), Scheduled("a", kStart + 500));
  const LogOffset past = log.Append(s.get(), Scheduled("past", kStart - 5000));
  const LogOffset gone = log.Append(s.get(), Scheduled("gone", kStart + 700));
  log.Append(s.get(), Cancel(gone));
  EXPECT_EQ(s->Stats().pending, 4);
  EXPECT_EQ(Offsets(Advance(s.get(), kStart)), (std::vector<int64_t>{past.value()}));
  EXPECT_TRUE(Advance(s.get(), kStart + 499).empty());
  // Equal due times fire by log offset, not by arrival.
  EXPECT_EQ(Offsets(Advance(s.get(), kStart + 500)), (std::vector<int64_t>{b.value(), a.value()}));
  EXPECT_TRUE(Advance(s.get(), kStart + 29 * kDay).empty());
  auto fired = Advance(s.get(), kStart + 31 * kDay);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0], (DueTimer{TimerKind::kScheduledMessage, kStart + 30 * kDay, far, 0, 0, 0}));
  // Handed out but not re-put: still pending in the index, not handed out again.
  EXPECT_EQ(s->Stats().pending, 4);
  EXPECT_EQ(s->Stats().firing, 4u);
  EXPECT_TRUE(Advance(s.get(), kStart + 32 * kDay).empty());
  for (LogOffset at : {far, a, b, past}) log.Append(s.get(), RePut(at));
  EXPECT_EQ(s->Stats().pending, 0);
  EXPECT_EQ(s->Stats().fired, 4);
  EXPECT_EQ(s->Stats().cancelled, 1);
  EXPECT_EQ(s->Stats().firing, 0u);
}

TEST(TimerServiceTest, VolatileTimersShareTheWheelAndOrder) {
  TempDir dir;
  TimerServiceOptions o;
  o.window_ms = 1000;
  auto s = OpenService(dir.path(), kStart, o);
  FakeLog log;
  const uint64_t lease = s->ScheduleVolatile(kStart + 200, /*tag=*/1, /*cookie=*/11);
  const uint64_t far = s->ScheduleVolatile(kStart + 3 * kDay, 2, 22);  // past the window
  const uint64_t dropped = s->ScheduleVolatile(kStart + 300, 1, 33);
  const LogOffset msg = log.Append(s.get(), Scheduled("m", kStart + 200));
  EXPECT_TRUE(s->CancelVolatile(dropped));
  EXPECT_FALSE(s->CancelVolatile(dropped));
  auto fired = Advance(s.get(), kStart + 1000);
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0].kind, TimerKind::kScheduledMessage);  // scheduled first at equal due
  EXPECT_EQ(fired[0].log_offset, msg);
  EXPECT_EQ(fired[1], (DueTimer{TimerKind::kVolatile, kStart + 200, LogOffset(), lease, 1, 11}));
  EXPECT_FALSE(s->CancelVolatile(lease));  // fired
  EXPECT_EQ(s->Stats().volatile_timers, 1u);
  for (int64_t t = kStart; t < kStart + 3 * kDay; t += 3600 * 1000) {
    EXPECT_TRUE(Advance(s.get(), t).empty());
  }
  fired = Advance(s.get(), kStart + 3 * kDay);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].id, far);
  EXPECT_EQ(fired[0].cookie, 22u);
}

TEST(TimerServiceTest, CancelProtocolIsRaceFreeAgainstFiring) {
  TempDir dir;
  auto s = OpenService(dir.path(), kStart);
  FakeLog log;
  const LogOffset x = log.Append(s.get(), Scheduled("x", kStart + 100));
  const LogOffset y = log.Append(s.get(), Scheduled("y", kStart + 100));
  const LogOffset z = log.Append(s.get(), Scheduled("z", kStart + 100));
  EXPECT_EQ(*s->BeginCancel(x), CancelState::kPending);
  EXPECT_EQ(*s->BeginCancel(x), CancelState::kNotFound);  // someone else is cancelling it
  EXPECT_EQ(*s->BeginCancel(y), CancelState::kPending);
  EXPECT_EQ((*s->FindByMessageId("y"))->offset, y);
  // x's cancel record is appended; y's append fails, so y must still fire.
  log.Append(s.get(), Cancel(x));
  s->EndCancel(x, /*appended=*/true);
  s->EndCancel(y, /*appended=*/false);
  EXPECT_EQ(Offsets(Advance(s.get(), kStart + 100)), (std::vector<int64_t>{y.value(), z.value()}));
  EXPECT_EQ(*s->BeginCancel(z), CancelState::kFiring);
  EXPECT_EQ(*s->BeginCancel(x), CancelState::kNotFound);
  EXPECT_FALSE(s->FindByMessageId("x")->has_value());
  // A failed re-put is retried later, still exactly one hand-out at a time.
  s->RetryFire(z, kStart + 150);
  EXPECT_TRUE(Advance(s.get(), kStart + 149).empty());
  EXPECT_EQ(Offsets(Advance(s.get(), kStart + 150)), (std::vector<int64_t>{z.value()}));
  log.Append(s.get(), RePut(y));
  log.Append(s.get(), RePut(z));
  EXPECT_EQ(*s->BeginCancel(z), CancelState::kNotFound);
  EXPECT_EQ(s->Stats().pending, 0);
  EXPECT_EQ(s->OldestPendingOffset(), kNoLogOffset);
}

TEST(TimerServiceTest, ClockStepsBackwardsAndForwards) {
  TempDir dir;
  TimerServiceOptions o;
  o.window_ms = 60'000;
  o.backward_reset_ms = 1000;
  auto s = OpenService(dir.path(), kStart, o);
  FakeLog log;
  const LogOffset soon = log.Append(s.get(), Scheduled("soon", kStart + 10'000));
  EXPECT_TRUE(Advance(s.get(), kStart + 5000).empty());
  // A small step back is ignored: the wheel keeps its time.
  EXPECT_TRUE(Advance(s.get(), kStart + 4500).empty());
  EXPECT_EQ(s->Stats().wheel_now_ms, kStart + 5000);
  // A big step back (an hour): firing waits until wall time reaches the due time again.
  const int64_t back = kStart - 3600 * 1000;
  EXPECT_TRUE(Advance(s.get(), back).empty());
  EXPECT_EQ(s->Stats().wheel_now_ms, back);
  const LogOffset later = log.Append(s.get(), Scheduled("later", back + 2000));
  EXPECT_TRUE(Advance(s.get(), back + 1999).empty());
  EXPECT_EQ(Offsets(Advance(s.get(), back + 2000)), (std::vector<int64_t>{later.value()}));
  EXPECT_TRUE(Advance(s.get(), kStart + 9999).empty());
  EXPECT_EQ(Offsets(Advance(s.get(), kStart + 10'000)), (std::vector<int64_t>{soon.value()}));
  // A forward step fires everything now due, in due order, without revisiting handed-out ones.
  const LogOffset d2 = log.Append(s.get(), Scheduled("d2", kStart + 2 * kDay));
  const LogOffset d1 = log.Append(s.get(), Scheduled("d1", kStart + kDay));
  EXPECT_EQ(Offsets(Advance(s.get(), kStart + 5 * kDay)),
            (std::vector<int64_t>{d1.value(), d2.value()}));
  EXPECT_TRUE(Advance(s.get(), kStart).empty());  // back again: nothing fires twice
  EXPECT_TRUE(Advance(s.get(), kStart + 6 * kDay).empty());
}

TEST(TimerServiceTest, MemoryStaysBoundedWithManyPendingFarAway) {
  TempDir dir;
  TimerServiceOptions o;
  o.window_ms = 60'000;
  o.max_loaded = 100;
  o.refill_chunk = 16;
  auto s = OpenService(dir.path(), kStart, o);
  FakeLog log;
  std::vector<std::pair<int64_t, int64_t>> want;
  for (int i = 0; i < 3000; ++i) {
    const int64_t due = kStart + 1000 + (i * 7919) % (2 * kDay);
    want.push_back({due, log.Append(s.get(), Scheduled("m" + std::to_string(i), due)).value()});
  }
  std::sort(want.begin(), want.end());
  EXPECT_LE(s->Stats().loaded, 100u);
  std::vector<std::pair<int64_t, int64_t>> got;
  for (int64_t t = kStart; t <= kStart + 2 * kDay + 1000; t += 17 * 60'000) {
    for (const DueTimer& d : Advance(s.get(), t)) got.push_back({d.due_ms, d.log_offset.value()});
    EXPECT_LE(s->Stats().loaded, 100u + 0);
  }
  EXPECT_EQ(got, want);
}

// Drives the service (wheel + LevelDB index) and a reference with the same random
// operations: schedule (past, near, far), cancel (records and the cancel protocol), volatile
// timers, re-puts some time after firing, clock steps both ways, and reopening the service
// (a crash: what was handed out but not re-put fires again; volatile timers are gone).
TEST(TimerServiceTest, RandomOperationsMatchAnOrderedReference) {
  for (uint32_t seed : {11u, 12u, 13u, 14u, 15u}) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    auto rnd = [&](int64_t n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); };
    TempDir dir;
    TimerServiceOptions o;
    o.window_ms = 30'000;
    o.max_loaded = 64;
    o.refill_chunk = 8;
    o.backward_reset_ms = 2000;
    int64_t now = kStart;  // the reference's view of the wheel's time
    int64_t wall = kStart;
    auto s = OpenService(dir.path(), now, o);
    FakeLog log;
    // Reference: pending by (due, id); id = log offset, or the volatile id.
    std::set<std::pair<int64_t, uint64_t>> pending;
    std::map<uint64_t, int64_t> due_of;
    std::set<int64_t> firing;  // handed out, re-put not yet appended
    std::vector<int64_t> to_reput;
    std::set<uint64_t> volatile_ids;
    int fired_scheduled = 0, fired_volatile = 0, reopens = 0;
    for (int step = 0; step < 1500; ++step) {
      const int op = static_cast<int>(rnd(100));
      if (op < 35) {
        int64_t due;
        const int where = static_cast<int>(rnd(10));
        if (where < 2) {
          due = wall - rnd(20'000);
        } else if (where < 7) {
          due = wall + rnd(2 * o.window_ms);
        } else {
          due = wall + rnd(30 * kDay);
        }
        const LogOffset at = log.Append(s.get(), Scheduled("m" + std::to_string(step), due));
        pending.insert({due, static_cast<uint64_t>(at.value())});
        due_of[static_cast<uint64_t>(at.value())] = due;
      } else if (op < 45) {
        const int64_t due = wall + rnd(2 * o.window_ms) - 1000;
        const uint64_t id = s->ScheduleVolatile(due, 1, static_cast<uint64_t>(step));
        pending.insert({due, id});
        due_of[id] = due;
        volatile_ids.insert(id);
      } else if (op < 55 && !due_of.empty()) {
        // Cancel a random known timer: pending, volatile, or handed out (too late, but a
        // cancel record may still race in and is harmless).
        auto it = std::next(due_of.begin(), rnd(static_cast<int64_t>(due_of.size())));
        const uint64_t id = it->first;
        const LogOffset at(static_cast<int64_t>(id));
        if (volatile_ids.count(id)) {
          ASSERT_TRUE(s->CancelVolatile(id));
          volatile_ids.erase(id);
        } else if (firing.count(at.value())) {
          ASSERT_EQ(*s->BeginCancel(at), CancelState::kFiring);
          log.Append(s.get(), Cancel(at));
          firing.erase(at.value());
        } else if (rnd(2) == 0) {
          log.Append(s.get(), Cancel(at));
        } else {
          auto state = s->BeginCancel(at);
          ASSERT_TRUE(state.ok());
          ASSERT_EQ(*state, CancelState::kPending);
          const bool appended = rnd(3) != 0;
          if (appended) log.Append(s.get(), Cancel(at));
          s->EndCancel(at, appended);
          if (!appended) continue;  // still pending
        }
        pending.erase({it->second, id});
        due_of.erase(it);
      } else if (op < 60 && !firing.empty()) {
        // A cancel racing a fire: the protocol says it is too late.
        const int64_t f = *firing.begin();
        auto state = s->BeginCancel(LogOffset(f));
        ASSERT_TRUE(state.ok());
        ASSERT_EQ(*state, CancelState::kFiring);
      } else if (op < 61 && rnd(4) == 0) {
        // Crash and restart: the index survives, the wheel and volatile timers do not.
        s.reset();
        s = OpenService(dir.path(), now, o);
        ++reopens;
        for (uint64_t id : volatile_ids) {
          pending.erase({due_of[id], id});
          due_of.erase(id);
        }
        volatile_ids.clear();
        for (int64_t f : firing) {
          pending.insert({due_of.at(static_cast<uint64_t>(f)), static_cast<uint64_t>(f)});
        }
        firing.clear();
        to_reput.clear();
      } else {
        // Advance: mostly small steps, sometimes big jumps, sometimes backwards.
        const int kind = static_cast<int>(rnd(20));
        if (kind == 0) {
          wall += rnd(40 * kDay);
        } else if (kind == 1) {
          wall -= rnd(1500);  // under backward_reset_ms: ignored
        } else if (kind == 2) {
          wall -= rnd(3600 * 1000);  // maybe a reset
        } else {
          wall += rnd(3000);
        }
        now = (wall < now - o.backward_reset_ms) ? wall : std::max(now, wall);
        // Re-put what fired earlier (the broker's appends land a little later).
        // Some lag behind, so clock resets and restarts meet entries still in flight.
        std::vector<int64_t> lagging;
        for (int64_t f : to_reput) {
          if (!firing.count(f)) continue;  // cancelled meanwhile
          if (rnd(3) == 0) {
            lagging.push_back(f);
            continue;
          }
          log.Append(s.get(), RePut(LogOffset(f)));
          firing.erase(f);
          due_of.erase(static_cast<uint64_t>(f));
        }
        to_reput = std::move(lagging);
        std::vector<DueTimer> want;
        while (!pending.empty() && pending.begin()->first <= now) {
          const auto [due, id] = *pending.begin();
          pending.erase(pending.begin());
          DueTimer t;
          t.due_ms = due;
          if (volatile_ids.count(id)) {
            t.kind = TimerKind::kVolatile;
            t.id = id;
            t.tag = 1;
            t.cookie = 0;
            volatile_ids.erase(id);
            due_of.erase(id);
            ++fired_volatile;
          } else {
            ++fired_scheduled;
            t.log_offset = LogOffset(static_cast<int64_t>(id));
            firing.insert(static_cast<int64_t>(id));
            to_reput.push_back(static_cast<int64_t>(id));
          }
          want.push_back(t);
        }
        auto got = s->Advance(wall);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        for (DueTimer& t : *got) t.cookie = 0;  // the cookie is the step; not modelled
        ASSERT_EQ(got->size(), want.size()) << "step " << step;
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_EQ((*got)[i], want[i]) << "step " << step << " #" << i;
        }
      }
      ASSERT_EQ(s->Stats().pending, static_cast<int64_t>(due_of.size() - volatile_ids.size()))
          << "step " << step;
      ASSERT_LE(s->Stats().loaded, due_of.size()) << "step " << step;
    }
    // The run exercised what it claims to.
    EXPECT_GT(fired_scheduled, 100);
    EXPECT_GT(fired_volatile, 50);
    EXPECT_GT(reopens, 0);
  }
}

}  // namespace
}  // namespace tidemq::timer
