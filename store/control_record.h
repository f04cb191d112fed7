// Control records (RecordType::kControl): the broker's metadata changes written to the
// CommitLog, so that the metadata key space (LevelDB "m/") is state derived from the log like
// the consume queues. A record's `tag` names its kind; its `body` is the payload below; every
// other field is empty. Layout, replay and retention rules: docs/storage_format.md §9.
//
//   payload := version:u8 part:u32 parts:u32 op_count:u32 op{op_count}
//   op      := kind:u8 key:short_str [value:long_str]       (value for kPut only)
//
// Encoder and decoder share the constants here; the decoder takes untrusted bytes (a record
// read back from disk) and never reads past them (fuzz target: tests/fuzz/control_fuzz.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/record.h"

namespace tidemq::store {

// Record.tag of control records.
inline constexpr char kControlTagMeta[] = "meta";                   // one MetaChange
inline constexpr char kControlTagMetaSnapshot[] = "meta-snapshot";  // part of a snapshot
inline constexpr uint8_t kControlPayloadVersion = 1;
// version(1) part(4) parts(4) op_count(4)
inline constexpr size_t kControlPayloadHeaderSize = 1 + 4 + 4 + 4;
// Most payload bytes per record when a change or a snapshot is split (segments permitting).
inline constexpr size_t kMaxControlPayloadBytes = 1u << 20;
// A snapshot of more parts than this is malformed (the most a 64 MiB key space needs).
inline constexpr uint32_t kMaxSnapshotParts = 1u << 16;

enum class MetaOpKind : uint8_t {
  kPut = 1,              // key := value
  kDelete = 2,           // key removed
  kDropTopicQueues = 3,  // every consume queue of topic `key` removed (a topic deletion)
};

struct MetaOp {
  MetaOpKind kind = MetaOpKind::kPut;
  std::string key;
  std::string value;  // kPut only
  bool operator==(const MetaOp&) const = default;
};

// Changes to the metadata key space, applied in order when the record is dispatched (live and
// on replay). Values are absolute, so applying a change twice is harmless.
class MetaChange {
 public:
  MetaChange& Put(std::string key, std::string value) {
    ops_.push_back(MetaOp{MetaOpKind::kPut, std::move(key), std::move(value)});
    return *this;
  }
  MetaChange& Delete(std::string key) {
    ops_.push_back(MetaOp{MetaOpKind::kDelete, std::move(key), {}});
    return *this;
  }
  // Drops the consume queues of `topic`, in log order: a replay from any checkpoint before it
  // never brings them back, and messages appended after it start the queues afresh.
  MetaChange& DropTopicQueues(std::string topic) {
    ops_.push_back(MetaOp{MetaOpKind::kDropTopicQueues, std::move(topic), {}});
    return *this;
  }
  // The change is fdatasynced before its callback runs, whatever the flush policy: for facts
  // that must outlive a power loss under kAsync too (the start epoch: receipt handles that
  // clients hold carry it, and an epoch must never be handed out twice).
  MetaChange& Synced() {
    synced_ = true;
    return *this;
  }
  const std::vector<MetaOp>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }
  bool synced() const { return synced_; }

 private:
  std::vector<MetaOp> ops_;
  bool synced_ = false;
};

struct ControlPayload {
  uint32_t part = 0;   // snapshots: this record's part, 0-based; changes: 0
  uint32_t parts = 1;  // snapshots: how many records the snapshot has; changes: 1
  std::vector<MetaOp> ops;
};

// Encodes ops into control records of kind `tag`, each payload at most max_payload bytes (at
// least one record, even for no ops). Records of one snapshot are numbered part/parts; a
// change split over several records numbers them the same way (each part applies on its
// own). kTooLarge when one op alone does not fit max_payload or a field its length prefix.
Result<std::vector<Record>> EncodeControlRecords(const std::vector<MetaOp>& ops,
                                                 std::string_view tag, size_t max_payload);
void EncodeControlPayload(const ControlPayload& payload, std::string* out);
// kCorruption on an unknown version or op kind, part >= parts, parts out of range, an empty
// key, a field running past the end or bytes left over.
Status DecodeControlPayload(std::string_view bytes, ControlPayload* out);
// True for a control record with a kDropTopicQueues op (the writer dispatches it alone).
bool DropsTopicQueues(const Record& record);

}  // namespace tidemq::store
