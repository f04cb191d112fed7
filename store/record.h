// A CommitLog record: the unit of everything the broker remembers (shared/DESIGN.md 2.1).
// The byte layout is in docs/storage_format.md; its constants live here, shared by the
// encoder and the decoder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/types.h"

namespace tidemq::store {

inline constexpr uint32_t kRecordMagic = 0x314D4454;     // "TDM1" little-endian
inline constexpr uint8_t kRecordFormatVersion = 1;
// magic(4) + total_length(4) + crc32c(4): what a scanner reads before it knows the rest.
inline constexpr size_t kRecordPrefixSize = 12;
inline constexpr size_t kMaxRecordBytes = 64u << 20;     // hard ceiling for any record
// version(1) type(1) flags(4) queue_id(4) + five i64 (queue_offset, store_ms, born_ms,
// deliver_at_ms, origin_offset).
inline constexpr size_t kRecordFixedFieldsSize = 1 + 1 + 4 + 4 + 5 * 8;
// Length prefixes of an all-empty record: topic, message_id, tag, message_group (u16 each),
// key count (u16), property count (u16), body (u32).
inline constexpr size_t kRecordEmptyVarFieldsSize = 2 + 2 + 2 + 2 + 2 + 2 + 4;
inline constexpr size_t kMinRecordSize =
    kRecordPrefixSize + kRecordFixedFieldsSize + kRecordEmptyVarFieldsSize;
// Limits imposed by the length prefixes.
inline constexpr size_t kMaxShortFieldBytes = 0xffff;  // names, tag, group, keys, prop keys
inline constexpr size_t kMaxFieldCount = 0xffff;       // keys, properties

enum class RecordType : uint8_t {
  kMessage = 1,        // a normal message: dispatched into its (topic, queue) consume queue
  kScheduled = 2,      // a message waiting for deliver_at_ms (timer/ indexes it; issue 3)
  kTimerCancel = 3,    // cancels the kScheduled record at origin_offset (issue 3)
  kTxnHalf = 4,        // a transactional half message (txn/; issue 4)
  kTxnEnd = 5,         // rollback of the half at origin_offset (a commit is its re-put; txn/)
  kTxnCheck = 6,       // a check-back is being sent for the half at origin_offset (txn/)
  kControl = 7,        // broker bookkeeping (offset commits, topic deletions, ...)
  // Consumption events (deliveries, acks, nacks, lapsed leases) of one topic's messages, for
  // the message lifecycle trace: its body is the broker core's (broker/core/trace_journal.h),
  // its keys name the queue positions the events are about, so the key index finds them.
  kTrace = 8,
};

// Record.flags bits.
// A kMessage/kScheduled re-put that commits the kTxnHalf at origin_offset.
inline constexpr uint32_t kFlagTxnCommit = 1u << 0;
// Who ended a transaction (kTxnEnd and commit re-puts): bits 8..11 (txn::EndReason).
inline constexpr uint32_t kFlagEndReasonShift = 8;
inline constexpr uint32_t kFlagEndReasonMask = 0xFu << kFlagEndReasonShift;

// True for record types that get a queue offset and a consume queue entry.
inline bool IsDispatchedToQueue(RecordType t) { return t == RecordType::kMessage; }

struct Record {
  RecordType type = RecordType::kMessage;
  uint32_t flags = 0;
  std::string topic;
  uint32_t queue_id = 0;
  int64_t queue_offset = -1;     // assigned by the store for IsDispatchedToQueue types
  std::string message_id;
  std::string tag;
  std::string message_group;     // FIFO: messages of one group share a queue, in order
  std::vector<std::string> keys;
  std::vector<std::pair<std::string, std::string>> properties;
  int64_t born_ms = 0;           // set by the producer
  int64_t store_ms = 0;          // set by the store when appended
  int64_t deliver_at_ms = 0;     // scheduled messages; 0 = none
  LogOffset origin_offset = kNoLogOffset;  // re-puts (timer fire, txn commit) and end records
  std::string body;

  // The exact number of bytes EncodeRecord appends.
  size_t EncodedSize() const;
};

// Checks that `record` can be encoded: every field fits its length prefix and the whole record
// fits kMaxRecordBytes (kTooLarge otherwise). EncodeRecord requires this to hold.
Status CheckEncodable(const Record& record);

// Appends the encoded record to *out (magic, length, CRC, fields).
void EncodeRecord(const Record& record, std::string* out);

// Decodes one record from the start of `bytes`. Fails with kCorruption on a bad magic, a
// length that does not fit, a CRC mismatch or a malformed field; never reads past `bytes`.
// *consumed is the record's total length on success.
Status DecodeRecord(std::string_view bytes, Record* out, size_t* consumed);

// Reads only the prefix: the record's total length, after checking the magic. Used by
// scanners to know how much to read.
Status PeekRecordLength(std::string_view prefix, uint32_t* total_length);

// Hash of a tag as stored in consume queue entries (0 for no tag).
uint32_t TagHash(std::string_view tag);

}  // namespace tidemq::store
