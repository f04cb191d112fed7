#include "store/control_record.h"

#include "common/coding.h"

namespace tidemq::store {
namespace {

bool IsKnownOp(uint8_t k) {
  return k >= static_cast<uint8_t>(MetaOpKind::kPut) &&
         k <= static_cast<uint8_t>(MetaOpKind::kDropTopicQueues);
}

size_t OpSize(const MetaOp& op) {
  return 1 + 2 + op.key.size() + (op.kind == MetaOpKind::kPut ? 4 + op.value.size() : 0);
}

void PutOp(const MetaOp& op, std::string* out) {
  out->push_back(static_cast<char>(op.kind));
  PutFixed16(out, static_cast<uint16_t>(op.key.size()));
  out->append(op.key);
  if (op.kind == MetaOpKind::kPut) {
    PutFixed32(out, static_cast<uint32_t>(op.value.size()));
    out->append(op.value);
  }
}

Record ControlRecord(std::string_view tag) {
  Record r;
  r.type = RecordType::kControl;
  r.tag = std::string(tag);
  return r;
}

}  // namespace

void EncodeControlPayload(const ControlPayload& payload, std::string* out) {
  out->push_back(static_cast<char>(kControlPayloadVersion));
  PutFixed32(out, payload.part);
  PutFixed32(out, payload.parts);
  PutFixed32(out, static_cast<uint32_t>(payload.ops.size()));
  for (const MetaOp& op : payload.ops) PutOp(op, out);
}

Result<std::vector<Record>> EncodeControlRecords(const std::vector<MetaOp>& ops,
                                                 std::string_view tag, size_t max_payload) {
  // Group the ops into parts that fit, then number the parts.
  std::vector<ControlPayload> parts(1);
  size_t bytes = kControlPayloadHeaderSize;
  for (const MetaOp& op : ops) {
    if (op.key.empty() || op.key.size() > kMaxShortFieldBytes) {
      return InvalidArgument("metadata key of " + std::to_string(op.key.size()) +
                             " bytes (must be 1.." + std::to_string(kMaxShortFieldBytes) + ")");
    }
    const size_t size = OpSize(op);
    if (kControlPayloadHeaderSize + size > max_payload) {
      return Status(Code::kTooLarge,
                    "metadata value of key '" + op.key + "' is " + std::to_string(op.value.size()) +
                        " bytes; a control record holds at most " + std::to_string(max_payload));
    }
    if (bytes + size > max_payload) {
      parts.emplace_back();
      bytes = kControlPayloadHeaderSize;
    }
    parts.back().ops.push_back(op);
    bytes += size;
  }
  if (parts.size() > kMaxSnapshotParts) {
    return Status(Code::kTooLarge, "metadata change of " + std::to_string(parts.size()) +
                                       " parts; the limit is " + std::to_string(kMaxSnapshotParts));
  }
  std::vector<Record> records;
  records.reserve(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    parts[i].part = static_cast<uint32_t>(i);
    parts[i].parts = static_cast<uint32_t>(parts.size());
    Record r = ControlRecord(tag);
    EncodeControlPayload(parts[i], &r.body);
    records.push_back(std::move(r));
  }
  return records;
}

Status DecodeControlPayload(std::string_view bytes, ControlPayload* out) {
  Reader in(bytes);
  uint8_t version = 0;
  uint32_t count = 0;
  if (!in.GetU8(&version) || !in.GetFixed32(&out->part) || !in.GetFixed32(&out->parts) ||
      !in.GetFixed32(&count)) {
    return Corruption("control record payload shorter than its header");
  }
  if (version != kControlPayloadVersion) {
    return Corruption("control record payload version " + std::to_string(version));
  }
  if (out->parts == 0 || out->parts > kMaxSnapshotParts || out->part >= out->parts) {
    return Corruption("control record part " + std::to_string(out->part) + " of " +
                      std::to_string(out->parts));
  }
  // Each op takes at least 4 bytes: a count past that cannot be honest (and must not size a
  // reservation).
  if (count > in.remaining() / 4) {
    return Corruption("control record claims " + std::to_string(count) + " ops");
  }
  out->ops.clear();
  out->ops.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t kind = 0;
    uint16_t key_len = 0;
    std::string_view key;
    if (!in.GetU8(&kind) || !in.GetFixed16(&key_len) || !in.GetBytes(key_len, &key)) {
      return Corruption("control record op " + std::to_string(i) + " runs past the payload");
    }
    if (!IsKnownOp(kind)) {
      return Corruption("control record op " + std::to_string(i) + " has unknown kind " +
                        std::to_string(kind));
    }
    if (key.empty()) return Corruption("control record op " + std::to_string(i) + " has no key");
    MetaOp op;
    op.kind = static_cast<MetaOpKind>(kind);
    op.key.assign(key);
    if (op.kind == MetaOpKind::kPut) {
      uint32_t value_len = 0;
      std::string_view value;
      if (!in.GetFixed32(&value_len) || !in.GetBytes(value_len, &value)) {
        return Corruption("control record op " + std::to_string(i) +
                          " value runs past the "
                          "payload");
      }
      op.value.assign(value);
    }
    out->ops.push_back(std::move(op));
  }
  if (in.remaining() != 0) {
    return Corruption(std::to_string(in.remaining()) + " bytes left over in a control record");
  }
  return Status::Ok();
}

bool DropsTopicQueues(const Record& record) {
  if (record.type != RecordType::kControl || record.tag != kControlTagMeta) return false;
  ControlPayload payload;
  if (!DecodeControlPayload(record.body, &payload).ok()) return false;
  for (const MetaOp& op : payload.ops) {
    if (op.kind == MetaOpKind::kDropTopicQueues) return true;
  }
  return false;
}

}  // namespace tidemq::store
