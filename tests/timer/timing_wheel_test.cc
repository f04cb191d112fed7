#include "timer/timing_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace tidemq::timer {
namespace {

constexpr int64_t kStart = 1'700'000'000'000;  // an unaligned wall-clock time
constexpr int64_t kDay = 24 * 3600 * 1000;

std::vector<WheelEntry> Fire(TimingWheel* wheel, int64_t now) {
  std::vector<WheelEntry> out;
  wheel->Advance(now, &out);
  return out;
}

// Adds an entry for every due time, then advances through d - 1, d and d + 1 of each and
// checks that each step fires exactly the entries due in (previous time, now], in order.
void ExpectFiresExactly(int64_t start, const std::vector<int64_t>& dues) {
  TimingWheel wheel(start, TimingWheel::kMaxWindowMs);
  std::multimap<std::pair<int64_t, uint64_t>, bool> pending;
  uint64_t id = 0;
  for (int64_t d : dues) {
    ASSERT_TRUE(wheel.Add(d, id)) << d - start;
    pending.emplace(std::make_pair(d, id), true);
    ++id;
  }
  std::set<int64_t> times;
  for (int64_t d : dues) {
    for (int64_t t : {d - 1, d, d + 1}) {
      if (t > start) times.insert(t);
    }
  }
  for (int64_t t : times) {
    std::vector<WheelEntry> want;
    while (!pending.empty() && pending.begin()->first.first <= t) {
      want.push_back({pending.begin()->first.first, pending.begin()->first.second});
      pending.erase(pending.begin());
    }
    ASSERT_EQ(Fire(&wheel, t), want) << "at +" << t - start;
    EXPECT_EQ(wheel.now_ms(), t);
  }
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimingWheelTest, SlotAndLevelBoundaries) {
  // From an aligned and an unaligned start, entries just before, at and after every level's
  // span (256 ms, 16384 ms, 2^20 ms) and slot edge fire exactly on time.
  for (int64_t start : {int64_t{0}, kStart, (kStart >> 26) << 26, ((kStart >> 26) << 26) - 1}) {
    std::vector<int64_t> dues;
    for (int64_t edge : {int64_t{1}, int64_t{255}, int64_t{256}, int64_t{512}, int64_t{16384},
                         int64_t{1} << 20, int64_t{5} << 20, int64_t{62} << 20}) {
      const int64_t aligned = ((start + edge) >> 8) << 8;
      for (int64_t d : {start + edge - 1, start + edge, start + edge + 1, aligned, aligned + 1}) {
        if (d > start) dues.push_back(d);
      }
    }
    SCOPED_TRACE(start);
    ExpectFiresExactly(start, dues);
  }
}

TEST(TimingWheelTest, CascadesBetweenEveryPairOfLevels) {
  // An entry placed in level L reaches level K < L (or fires straight from L) depending on
  // which of its lower bits are zero: try every combination of zero/non-zero digits.
  const int64_t start = ((kStart >> 26) << 26) + 7;
  std::vector<int64_t> dues;
  for (int64_t top : {0, 1, 2, 40}) {
    for (int64_t l2 : {0, 1, 63}) {
      for (int64_t l1 : {0, 1, 63}) {
        for (int64_t l0 : {0, 1, 255}) {
          const int64_t base = (start >> 26) << 26;
          int64_t d = base + (top << 20) + (l2 << 14) + (l1 << 8) + l0;
          if (d <= start) d += int64_t{1} << 20;
          dues.push_back(d);
        }
      }
    }
  }
  ExpectFiresExactly(start, dues);
}

TEST(TimingWheelTest, FiresInSmallStepsAcrossCascades) {
  TimingWheel wheel(kStart, TimingWheel::kMaxWindowMs);
  std::vector<WheelEntry> want;
  for (uint64_t i = 0; i < 500; ++i) {
    const int64_t due = kStart + static_cast<int64_t>(i * i * 977 % (3 * 3600 * 1000));
    ASSERT_TRUE(wheel.Add(due, i));
    want.push_back({due, i});
  }
  std::sort(want.begin(), want.end());
  std::vector<WheelEntry> got;
  for (int64_t t = kStart; t <= kStart + 3 * 3600 * 1000; t += 997) {
    std::vector<WheelEntry> fired = Fire(&wheel, t);
    for (const WheelEntry& e : fired) {
      EXPECT_LE(e.due_ms, t);
      EXPECT_GT(e.due_ms, t - 997);  // not late: due in this step
    }
    got.insert(got.end(), fired.begin(), fired.end());
  }
  EXPECT_EQ(got, want);
}

TEST(TimingWheelTest, RefusesPastTheWindow) {
  TimingWheel wheel(kStart, 60'000);
  EXPECT_EQ(wheel.horizon_ms(), kStart + 60'000);
  EXPECT_FALSE(wheel.Add(kStart + 60'000, 1));
  EXPECT_FALSE(wheel.Add(kStart + 30 * kDay, 2));
  EXPECT_TRUE(wheel.Add(kStart + 59'999, 3));
  EXPECT_EQ(wheel.size(), 1u);
  EXPECT_TRUE(Fire(&wheel, kStart + 1000).empty());
  EXPECT_TRUE(wheel.Add(kStart + 60'000, 1));  // the window moved with time
  EXPECT_EQ(Fire(&wheel, kStart + 60'000),
            (std::vector<WheelEntry>{{kStart + 59'999, 3}, {kStart + 60'000, 1}}));
}

TEST(TimingWheelTest, ManyEntriesInOneMillisecondFireByOffset) {
  TimingWheel wheel(kStart, 60'000);
  std::vector<uint64_t> ids(2000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = 1000 + i * 17;
  std::shuffle(ids.begin(), ids.end(), std::mt19937(7));
  const int64_t due = kStart + 20'000;  // lands in level 2, cascades through 1 and 0
  for (uint64_t id : ids) ASSERT_TRUE(wheel.Add(due, id));
  ASSERT_TRUE(wheel.Add(due - 1, 999'999));
  ASSERT_TRUE(wheel.Add(due + 1, 1));
  EXPECT_TRUE(Fire(&wheel, due - 2).empty());
  EXPECT_EQ(Fire(&wheel, due - 1), (std::vector<WheelEntry>{{due - 1, 999'999}}));
  std::vector<WheelEntry> fired = Fire(&wheel, due);
  ASSERT_EQ(fired.size(), ids.size());
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(fired[i], (WheelEntry{due, ids[i]}));
  EXPECT_EQ(Fire(&wheel, due + 1), (std::vector<WheelEntry>{{due + 1, 1}}));
}

TEST(TimingWheelTest, CancelBeforeFireAndHarmlessAfter) {
  TimingWheel wheel(kStart, 3'600'000);
  for (uint64_t id = 1; id <= 5; ++id) ASSERT_TRUE(wheel.Add(kStart + 100'000 * id, id));
  ASSERT_TRUE(wheel.Add(kStart - 5, 6));  // past due: in the ready list
  EXPECT_TRUE(wheel.Cancel(2));
  EXPECT_TRUE(wheel.Cancel(6));
  EXPECT_FALSE(wheel.Cancel(2));   // twice
  EXPECT_FALSE(wheel.Cancel(42));  // never added
  EXPECT_FALSE(wheel.Contains(2));
  EXPECT_EQ(wheel.size(), 4u);
  EXPECT_EQ(Fire(&wheel, kStart + 150'000), (std::vector<WheelEntry>{{kStart + 100'000, 1}}));
  EXPECT_FALSE(wheel.Cancel(1));  // already fired
  EXPECT_TRUE(wheel.Cancel(4));
  EXPECT_EQ(Fire(&wheel, kStart + 1'000'000),
            (std::vector<WheelEntry>{{kStart + 300'000, 3}, {kStart + 500'000, 5}}));
  // A cancelled id may be scheduled again.
  EXPECT_TRUE(wheel.Add(kStart + 1'000'001, 2));
  EXPECT_EQ(Fire(&wheel, kStart + 1'000'001), (std::vector<WheelEntry>{{kStart + 1'000'001, 2}}));
}

TEST(TimingWheelTest, AddingAPendingIdAgainIsANoOp) {
  TimingWheel wheel(kStart, 60'000);
  ASSERT_TRUE(wheel.Add(kStart + 10, 1));
  ASSERT_TRUE(wheel.Add(kStart + 10, 1));
  EXPECT_EQ(wheel.size(), 1u);
  EXPECT_EQ(Fire(&wheel, kStart + 10).size(), 1u);
}

TEST(TimingWheelTest, LargeJumpsFireEverythingDueInOrder) {
  TimingWheel wheel(kStart, TimingWheel::kMaxWindowMs);
  std::vector<WheelEntry> want;
  std::mt19937_64 rng(3);
  for (uint64_t id = 0; id < 5000; ++id) {
    const int64_t due = kStart + static_cast<int64_t>(rng() % TimingWheel::kMaxWindowMs);
    ASSERT_TRUE(wheel.Add(due, id));
    want.push_back({due, id});
  }
  std::sort(want.begin(), want.end());
  // Days past the whole window in one step: one pass over the occupied slots.
  EXPECT_EQ(Fire(&wheel, kStart + 40 * kDay), want);
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_EQ(wheel.now_ms(), kStart + 40 * kDay);
  // The wheel works from its new time, including a jump over years with nothing pending.
  ASSERT_TRUE(wheel.Add(kStart + 40 * kDay + 5, 1));
  EXPECT_TRUE(Fire(&wheel, kStart + 40 * kDay + 4).empty());
  EXPECT_EQ(Fire(&wheel, kStart + 40 * kDay + 5).size(), 1u);
  EXPECT_TRUE(Fire(&wheel, kStart + 4000 * kDay).empty());
  ASSERT_TRUE(wheel.Add(kStart + 4000 * kDay + (int64_t{40} << 20), 2));
  EXPECT_EQ(Fire(&wheel, kStart + 4001 * kDay).size(), 1u);
}

TEST(TimingWheelTest, TimeGoingBackwardsNeitherFiresTwiceNorLoses) {
  TimingWheel wheel(kStart, 3'600'000);
  ASSERT_TRUE(wheel.Add(kStart + 1000, 1));
  ASSERT_TRUE(wheel.Add(kStart + 2000, 2));
  ASSERT_TRUE(wheel.Add(kStart + 3000, 3));
  EXPECT_EQ(Fire(&wheel, kStart + 1500).size(), 1u);
  EXPECT_TRUE(Fire(&wheel, kStart + 500).empty());  // backwards: ignored
  EXPECT_EQ(wheel.now_ms(), kStart + 1500);
  EXPECT_TRUE(Fire(&wheel, kStart + 1500).empty());  // standing still
  // Due at or before the wheel's time when added: fires on the next Advance, whatever time
  // that call names.
  ASSERT_TRUE(wheel.Add(kStart + 1200, 4));
  EXPECT_EQ(Fire(&wheel, kStart + 100), (std::vector<WheelEntry>{{kStart + 1200, 4}}));
  EXPECT_EQ(Fire(&wheel, kStart + 3000),
            (std::vector<WheelEntry>{{kStart + 2000, 2}, {kStart + 3000, 3}}));
}

TEST(TimingWheelTest, NextWakeIsALowerBoundOfTheNextDueTime) {
  TimingWheel wheel(kStart, TimingWheel::kMaxWindowMs);
  EXPECT_FALSE(wheel.NextWakeMs().has_value());
  ASSERT_TRUE(wheel.Add(kStart + 5 * 3600 * 1000, 1));
  ASSERT_TRUE(wheel.NextWakeMs().has_value());
  EXPECT_LE(*wheel.NextWakeMs(), kStart + 5 * 3600 * 1000);
  EXPECT_GT(*wheel.NextWakeMs(), kStart);
  ASSERT_TRUE(wheel.Add(kStart + 3, 2));
  EXPECT_EQ(*wheel.NextWakeMs(), kStart + 3);
  ASSERT_TRUE(wheel.Add(kStart - 3, 3));
  EXPECT_EQ(*wheel.NextWakeMs(), kStart);
  EXPECT_EQ(wheel.TakeAll().size(), 3u);
  EXPECT_FALSE(wheel.NextWakeMs().has_value());
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimingWheelTest, RandomOperationsMatchAnOrderedReference) {
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    const int64_t window = 600'000;
    TimingWheel wheel(kStart, window);
    std::set<std::pair<int64_t, uint64_t>> ref;
    std::map<uint64_t, int64_t> due_of;
    int64_t now = kStart;  // the wheel's time: the largest time advanced to
    uint64_t next_id = 0;
    for (int step = 0; step < 20'000; ++step) {
      const int op = static_cast<int>(rng() % 10);
      if (op < 5) {
        const int64_t due = now - 1000 + static_cast<int64_t>(rng() % (window + 5000));
        const bool accepted = wheel.Add(due, next_id);
        ASSERT_EQ(accepted, due < now + window);
        if (accepted) {
          ref.insert({due, next_id});
          due_of[next_id] = due;
        }
        ++next_id;
      } else if (op < 7 && next_id > 0) {
        const uint64_t id = rng() % next_id;
        auto it = due_of.find(id);
        ASSERT_EQ(wheel.Cancel(id), it != due_of.end());
        if (it != due_of.end()) {
          ref.erase({it->second, id});
          due_of.erase(it);
        }
      } else {
        const int kind = static_cast<int>(rng() % 10);
        int64_t t = now + static_cast<int64_t>(rng() % 3000);
        if (kind == 0) t = now + static_cast<int64_t>(rng() % (3 * window));
        if (kind == 1) t = now - static_cast<int64_t>(rng() % 5000);
        now = std::max(now, t);
        std::vector<WheelEntry> want;
        while (!ref.empty() && ref.begin()->first <= now) {
          want.push_back({ref.begin()->first, ref.begin()->second});
          due_of.erase(ref.begin()->second);
          ref.erase(ref.begin());
        }
        ASSERT_EQ(Fire(&wheel, t), want) << "step " << step;
      }
      ASSERT_EQ(wheel.size(), ref.size());
    }
  }
}

}  // namespace
}  // namespace tidemq::timer
