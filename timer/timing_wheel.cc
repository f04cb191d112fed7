#include "timer/timing_wheel.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "common/assert.h"

namespace tidemq::timer {
namespace {

constexpr int kBits[TimingWheel::kLevels] = {8, 6, 6, 6};
constexpr int kShift[TimingWheel::kLevels] = {0, 8, 14, 20};
constexpr int kTopShift = 26;  // kShift[3] + kBits[3]: one turn of the top level

constexpr uint32_t SlotCount(int level) { return 1u << kBits[level]; }
constexpr uint32_t SlotOf(int64_t ms, int level) {
  return static_cast<uint32_t>(ms >> kShift[level]) & (SlotCount(level) - 1);
}

// The lowest level whose slots tell `due` apart from `now` (due > now): the highest differing
// bit decides, so entries of one slot always share every bit above it with now.
int LevelFor(int64_t due, int64_t now) {
  const uint64_t x = static_cast<uint64_t>(due ^ now);
  for (int level = 0; level < TimingWheel::kLevels - 1; ++level) {
    if (x < (uint64_t{1} << (kShift[level] + kBits[level]))) return level;
  }
  return TimingWheel::kLevels - 1;  // the top level wraps (due - now < kMaxWindowMs)
}

}  // namespace

TimingWheel::TimingWheel(int64_t now_ms, int64_t window_ms)
    : now_ms_(now_ms), window_ms_(window_ms) {
  TIDEMQ_CHECK(window_ms >= 1 && window_ms <= kMaxWindowMs);
  TIDEMQ_CHECK(now_ms >= 0);
  for (int level = 0; level < kLevels; ++level) slots_[level].resize(SlotCount(level));
}

bool TimingWheel::Add(int64_t due_ms, uint64_t id) {
  if (due_ms >= horizon_ms()) return false;
  if (Contains(id)) return true;
  Place(WheelEntry{due_ms, id});
  return true;
}

void TimingWheel::Place(const WheelEntry& e) {
  if (e.due_ms <= now_ms_) {
    where_[e.id] = Location{-1, 0, static_cast<uint32_t>(ready_.size())};
    ready_.push_back(e);
    return;
  }
  const int level = LevelFor(e.due_ms, now_ms_);
  Push(level, SlotOf(e.due_ms, level), e);
}

void TimingWheel::Push(int level, uint32_t slot, const WheelEntry& e) {
  auto& entries = slots_[level][slot].entries;
  where_[e.id] = Location{level, slot, static_cast<uint32_t>(entries.size())};
  entries.push_back(e);
  SetBit(level, slot);
}

bool TimingWheel::Cancel(uint64_t id) {
  auto it = where_.find(id);
  if (it == where_.end()) return false;
  const Location loc = it->second;
  where_.erase(it);
  auto& entries = loc.level < 0 ? ready_ : slots_[loc.level][loc.slot].entries;
  // Swap-remove keeps Cancel O(1); firing sorts a slot anyway.
  if (loc.pos + 1 != entries.size()) {
    entries[loc.pos] = entries.back();
    where_[entries[loc.pos].id].pos = loc.pos;
  }
  entries.pop_back();
  if (loc.level >= 0 && entries.empty()) ClearBit(loc.level, loc.slot);
  return true;
}

void TimingWheel::Emit(std::vector<WheelEntry>* batch, std::vector<WheelEntry>* out) {
  std::sort(batch->begin(), batch->end());
  for (const WheelEntry& e : *batch) {
    where_.erase(e.id);
    out->push_back(e);
  }
  batch->clear();
}

void TimingWheel::Advance(int64_t now_ms, std::vector<WheelEntry>* out) {
  if (!ready_.empty()) {
    // Everything here is due at or before now_ms_, earlier than any slot entry.
    std::vector<WheelEntry> ready = std::move(ready_);
    ready_.clear();
    Emit(&ready, out);
  }
  if (now_ms <= now_ms_) return;  // time went backwards or stood still: nothing new is due
  int64_t at;
  int level;
  uint32_t slot;
  std::vector<WheelEntry> due;
  while (NextEvent(&at, &level, &slot) && at <= now_ms) {
    now_ms_ = at;
    std::vector<WheelEntry> entries = std::move(slots_[level][slot].entries);
    slots_[level][slot].entries.clear();
    ClearBit(level, slot);
    if (level == 0) {
      due = std::move(entries);
    } else {
      // Cascade: now shares the slot's upper bits, so the rest land in lower levels.
      for (const WheelEntry& e : entries) {
        if (e.due_ms == now_ms_) {
          due.push_back(e);
        } else {
          Place(e);
        }
      }
    }
    Emit(&due, out);
  }
  // No occupied slot starts at or before now_ms, so every remaining entry keeps its level
  // and slot relative to the new time (see docs/timer.md).
  now_ms_ = now_ms;
}

bool TimingWheel::NextEvent(int64_t* at, int* level, uint32_t* slot) const {
  // A lower level's occupied slots all start before the next boundary of the level above,
  // so the lowest occupied level holds the next event.
  for (int l = 0; l < kLevels; ++l) {
    const int cur = static_cast<int>(SlotOf(now_ms_, l));
    const int span_shift = kShift[l] + kBits[l];
    const int64_t base = (now_ms_ >> span_shift) << span_shift;
    int s = NextBit(l, cur);
    int64_t start;
    if (s >= 0) {
      start = base + (int64_t{s} << kShift[l]);
    } else if (l == kLevels - 1) {
      // The top level wraps: a slot before cur belongs to the next turn.
      s = NextBit(l, -1);
      if (s < 0) continue;
      TIDEMQ_CHECK(s < cur);  // cur itself stays empty (due - now < kMaxWindowMs)
      start = base + (int64_t{1} << kTopShift) + (int64_t{s} << kShift[l]);
    } else {
      TIDEMQ_CHECK(NextBit(l, -1) < 0);  // below the top, slots <= cur stay empty
      continue;
    }
    *at = start;
    *level = l;
    *slot = static_cast<uint32_t>(s);
    return true;
  }
  return false;
}

std::optional<int64_t> TimingWheel::NextWakeMs() const {
  if (!ready_.empty()) return now_ms_;
  int64_t at;
  int level;
  uint32_t slot;
  if (!NextEvent(&at, &level, &slot)) return std::nullopt;
  return at;
}

std::vector<WheelEntry> TimingWheel::TakeAll() {
  std::vector<WheelEntry> all = std::move(ready_);
  ready_.clear();
  for (int l = 0; l < kLevels; ++l) {
    for (auto& slot : slots_[l]) {
      all.insert(all.end(), slot.entries.begin(), slot.entries.end());
      slot.entries.clear();
    }
    bitmap_[l].fill(0);
  }
  where_.clear();
  return all;
}

void TimingWheel::SetBit(int level, uint32_t slot) {
  bitmap_[level][slot >> 6] |= uint64_t{1} << (slot & 63);
}

void TimingWheel::ClearBit(int level, uint32_t slot) {
  bitmap_[level][slot >> 6] &= ~(uint64_t{1} << (slot & 63));
}

int TimingWheel::NextBit(int level, int after) const {
  const int n = static_cast<int>(SlotCount(level));
  int i = after + 1;
  while (i < n) {
    const uint64_t word = bitmap_[level][i >> 6] >> (i & 63);
    if (word != 0) return i + std::countr_zero(word);
    i = (i | 63) + 1;
  }
  return -1;
}

}  // namespace tidemq::timer
