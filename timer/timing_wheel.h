// A hierarchical timing wheel with 1 ms resolution for the near future (issue 3, docs/timer.md).
//
// Contract: the wheel holds entries {due_ms, id} whose due time lies in the window
// [now_ms(), now_ms() + window_ms()); Add() refuses anything later (the caller keeps it
// elsewhere, e.g. the LevelDB timer index, and adds it once the window reaches it). Time moves
// only when the caller says so: Advance(now) fires every entry with due_ms <= now, ordered by
// (due_ms, id). There are no threads inside and no clock: the caller owns time.
//
// Four levels of 256/64/64/64 slots cover 1 ms, 256 ms, 16.4 s and 17.5 min per slot; an entry
// sits in the lowest level whose span still separates it from now, and cascades down as now
// reaches its slot, so every entry moves at most three times. Advance() visits only non-empty
// slots (found through per-level bitmaps), so a jump of hours costs the number of occupied
// slots passed, not the number of milliseconds.
//
// Time never goes backwards inside the wheel: Advance() with an earlier time fires nothing and
// keeps now_ms() (so nothing fires twice and nothing is lost). An entry added with a due time
// at or before now_ms() fires on the next Advance(), whatever time that call names.
//
// Thread safety: none; the owner serialises every call (TimerService holds its mutex).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace tidemq::timer {

struct WheelEntry {
  int64_t due_ms = 0;
  uint64_t id = 0;  // unique among pending entries; equal due times fire in id order
  friend auto operator<=>(const WheelEntry&, const WheelEntry&) = default;
};

class TimingWheel {
 public:
  static constexpr int kLevels = 4;
  // The top level wraps; keeping due - now below 63 top slots keeps an entry out of the top
  // slot now is in, whose entries are being cascaded.
  static constexpr int64_t kMaxWindowMs = int64_t{63} << 20;

  // Requires 1 <= window_ms <= kMaxWindowMs and now_ms >= 0.
  TimingWheel(int64_t now_ms, int64_t window_ms);
  TimingWheel(const TimingWheel&) = delete;
  TimingWheel& operator=(const TimingWheel&) = delete;

  int64_t now_ms() const { return now_ms_; }
  int64_t window_ms() const { return window_ms_; }
  // The first due time Add() refuses.
  int64_t horizon_ms() const { return now_ms_ + window_ms_; }
  size_t size() const { return where_.size(); }
  bool Contains(uint64_t id) const { return where_.count(id) != 0; }

  // False when due_ms >= horizon_ms() (refused, nothing stored). Adding an id already
  // pending is a no-op returning true (re-adding a replayed entry is harmless).
  bool Add(int64_t due_ms, uint64_t id);
  // Removes a pending entry; false when the id is unknown (already fired or never added).
  bool Cancel(uint64_t id);
  // Appends to *out every entry with due_ms <= max(now_ms(), now_ms), in (due_ms, id) order,
  // then moves now_ms() to that time.
  void Advance(int64_t now_ms, std::vector<WheelEntry>* out);
  // A lower bound for the next due time (the start of the first occupied slot), or nullopt
  // when empty. The owner's thread may sleep until then.
  std::optional<int64_t> NextWakeMs() const;
  // Removes and returns every pending entry (in no particular order), keeping now_ms().
  std::vector<WheelEntry> TakeAll();

 private:
  struct Location {
    int level;  // -1: the ready list (due at or before now when added)
    uint32_t slot;
    uint32_t pos;
  };
  struct Slot {
    std::vector<WheelEntry> entries;
  };

  void Place(const WheelEntry& e);
  void Push(int level, uint32_t slot, const WheelEntry& e);
  // Time of the first occupied slot of the lowest occupied level, with its level and slot.
  bool NextEvent(int64_t* at, int* level, uint32_t* slot) const;
  void SetBit(int level, uint32_t slot);
  void ClearBit(int level, uint32_t slot);
  // First set bit at index > after (no wrap), or -1.
  int NextBit(int level, int after) const;
  void Emit(std::vector<WheelEntry>* batch, std::vector<WheelEntry>* out);

  int64_t now_ms_;
  const int64_t window_ms_;
  std::array<std::vector<Slot>, kLevels> slots_;
  std::array<std::array<uint64_t, 4>, kLevels> bitmap_{};  // occupied slots per level
  std::vector<WheelEntry> ready_;
  std::unordered_map<uint64_t, Location> where_;
};

}  // namespace tidemq::timer
