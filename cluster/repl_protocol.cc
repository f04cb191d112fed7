#include "cluster/repl_protocol.h"

#include <algorithm>

#include "common/coding.h"
#include "common/crc32c.h"

namespace tidemq::cluster {
namespace {

constexpr uint32_t kMaxStringBytes = 4096;  // group and broker ids, error messages

void PutString(std::string* out, std::string_view s) {
  PutFixed32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

void PutOffset(std::string* out, LogOffset o) { PutFixed64(out, static_cast<uint64_t>(o.value())); }

bool GetString(Reader* r, std::string* out, uint32_t max = kMaxStringBytes) {
  uint32_t n = 0;
  std::string_view bytes;
  if (!r->GetFixed32(&n) || n > max || !r->GetBytes(n, &bytes)) return false;
  out->assign(bytes);
  return true;
}

bool GetOffset(Reader* r, LogOffset* out) {
  uint64_t v = 0;
  if (!r->GetFixed64(&v)) return false;
  const auto s = static_cast<int64_t>(v);
  if (s < -1) return false;  // offsets are >= 0, or kNoLogOffset
  *out = LogOffset(s);
  return true;
}

bool GetInt64(Reader* r, int64_t* out) {
  uint64_t v = 0;
  if (!r->GetFixed64(&v)) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

Status Malformed(const char* what) {
  return Corruption(std::string("malformed replication ") + what);
}

}  // namespace

std::string EncodeFrame(ReplKind kind, std::string_view payload) {
  std::string out;
  out.reserve(kReplFrameHeaderSize + 1 + payload.size());
  PutFixed32(&out, static_cast<uint32_t>(4 + 1 + payload.size()));
  PutFixed32(&out, 0);  // crc, below
  out.push_back(static_cast<char>(kind));
  out.append(payload);
  EncodeFixed32(out.data() + 4, crc32c::Value(out.data() + kReplFrameHeaderSize,
                                              out.size() - kReplFrameHeaderSize));
  return out;
}

std::string EncodeHello(const Hello& m) {
  std::string p;
  PutFixed32(&p, m.version);
  PutString(&p, m.group);
  PutString(&p, m.replica_id);
  PutFixed32(&p, static_cast<uint32_t>(m.epochs.size()));
  for (const EpochStart& e : m.epochs) {
    PutFixed64(&p, static_cast<uint64_t>(e.epoch));
    PutOffset(&p, e.start);
  }
  PutOffset(&p, m.log_end);
  return EncodeFrame(ReplKind::kHello, p);
}

std::string EncodeWelcome(const Welcome& m) {
  std::string p;
  PutFixed64(&p, static_cast<uint64_t>(m.epoch));
  PutOffset(&p, m.truncate_to);
  PutOffset(&p, m.master_log_start);
  PutOffset(&p, m.master_log_end);
  return EncodeFrame(ReplKind::kWelcome, p);
}

std::string EncodeFetch(const Fetch& m) {
  std::string p;
  PutOffset(&p, m.from);
  PutOffset(&p, m.flushed);
  PutFixed32(&p, m.max_bytes);
  PutFixed32(&p, m.max_wait_ms);
  return EncodeFrame(ReplKind::kFetch, p);
}

std::string EncodeChunk(const Chunk& m) {
  std::string p;
  p.reserve(8 * 5 + 4 + m.bytes.size());
  PutFixed64(&p, static_cast<uint64_t>(m.epoch));
  PutOffset(&p, m.from);
  PutOffset(&p, m.segment_base);
  PutOffset(&p, m.master_end);
  PutOffset(&p, m.commit_end);
  PutString(&p, m.bytes);
  return EncodeFrame(ReplKind::kChunk, p);
}

std::string EncodeError(const ReplError& m) {
  std::string p;
  p.push_back(static_cast<char>(m.code));
  PutString(&p, m.message.substr(0, kMaxStringBytes));
  return EncodeFrame(ReplKind::kError, p);
}

Result<size_t> FrameSize(std::string_view buf) {
  if (buf.size() < 4) return size_t{0};
  const uint32_t length = DecodeFixed32(buf.data());
  if (length < 4 + 1) return Corruption("replication frame of " + std::to_string(length) + " bytes");
  if (length > kMaxReplFrameBytes) {
    return Status(Code::kTooLarge, "replication frame of " + std::to_string(length) +
                                       " bytes (the most is " +
                                       std::to_string(kMaxReplFrameBytes) + ")");
  }
  return size_t{4} + length;
}

Result<ReplFrame> DecodeFrame(std::string_view buf) {
  ASSIGN_OR_RETURN(size_t size, FrameSize(buf));
  if (size == 0 || size != buf.size()) return Corruption("replication frame cut short");
  const uint32_t crc = DecodeFixed32(buf.data() + 4);
  const std::string_view body = buf.substr(kReplFrameHeaderSize);
  if (crc32c::Value(body) != crc) return Corruption("replication frame fails its CRC");
  const auto kind = static_cast<ReplKind>(static_cast<uint8_t>(body[0]));
  if (kind < ReplKind::kHello || kind > ReplKind::kError) {
    return Corruption("unknown replication frame kind " +
                      std::to_string(static_cast<int>(static_cast<uint8_t>(body[0]))));
  }
  return ReplFrame{kind, body.substr(1)};
}

Status DecodeHello(std::string_view payload, Hello* out) {
  Reader r(payload);
  uint32_t n = 0;
  if (!r.GetFixed32(&out->version) || !GetString(&r, &out->group) ||
      !GetString(&r, &out->replica_id) || !r.GetFixed32(&n) || n > kMaxEpochHistory) {
    return Malformed("hello");
  }
  out->epochs.clear();
  for (uint32_t i = 0; i < n; ++i) {
    EpochStart e;
    if (!GetInt64(&r, &e.epoch) || !GetOffset(&r, &e.start)) return Malformed("hello");
    if (!out->epochs.empty() &&
        (e.epoch <= out->epochs.back().epoch || e.start < out->epochs.back().start)) {
      return Corruption("replication hello: epochs out of order");
    }
    out->epochs.push_back(e);
  }
  if (!GetOffset(&r, &out->log_end) || r.remaining() != 0) return Malformed("hello");
  return Status::Ok();
}

Status DecodeWelcome(std::string_view payload, Welcome* out) {
  Reader r(payload);
  if (!GetInt64(&r, &out->epoch) || !GetOffset(&r, &out->truncate_to) ||
      !GetOffset(&r, &out->master_log_start) || !GetOffset(&r, &out->master_log_end) ||
      r.remaining() != 0) {
    return Malformed("welcome");
  }
  return Status::Ok();
}

Status DecodeFetch(std::string_view payload, Fetch* out) {
  Reader r(payload);
  if (!GetOffset(&r, &out->from) || !GetOffset(&r, &out->flushed) ||
      !r.GetFixed32(&out->max_bytes) || !r.GetFixed32(&out->max_wait_ms) || r.remaining() != 0) {
    return Malformed("fetch");
  }
  if (out->from.value() < 0) return Corruption("replication fetch from a negative offset");
  return Status::Ok();
}

Status DecodeChunk(std::string_view payload, Chunk* out) {
  Reader r(payload);
  if (!GetInt64(&r, &out->epoch) || !GetOffset(&r, &out->from) ||
      !GetOffset(&r, &out->segment_base) || !GetOffset(&r, &out->master_end) ||
      !GetOffset(&r, &out->commit_end) || !GetString(&r, &out->bytes, kMaxReplFrameBytes) ||
      r.remaining() != 0) {
    return Malformed("chunk");
  }
  if (out->from.value() < 0 || out->segment_base.value() < 0 || out->segment_base > out->from) {
    return Corruption("replication chunk: bad offsets");
  }
  return Status::Ok();
}

Status DecodeError(std::string_view payload, ReplError* out) {
  Reader r(payload);
  uint8_t code = 0;
  if (!r.GetU8(&code) || !GetString(&r, &out->message) || r.remaining() != 0) {
    return Malformed("error");
  }
  out->code = code == 0 || code > static_cast<uint8_t>(Code::kNotWritable)
                  ? Code::kInternal
                  : static_cast<Code>(code);
  return Status::Ok();
}

LogOffset DivergencePoint(const std::vector<EpochStart>& master, LogOffset master_end,
                          const std::vector<EpochStart>& replica, LogOffset replica_end) {
  // The newest epoch both histories hold with the same start.
  int mi = -1, ri = -1;
  for (int i = static_cast<int>(replica.size()) - 1; i >= 0 && mi < 0; --i) {
    for (int j = static_cast<int>(master.size()) - 1; j >= 0; --j) {
      if (master[j] == replica[i]) {
        mi = j;
        ri = i;
        break;
      }
    }
  }
  LogOffset agreed;
  if (mi < 0) {
    // No epoch in common. A replica with no epochs holds a prefix of the log written before
    // the group had any (or nothing): it agrees up to the master's first epoch. Otherwise
    // nothing of it can be trusted.
    if (!replica.empty()) return replica_end > LogOffset(0) ? LogOffset(0) : kNoLogOffset;
    agreed = master.empty() ? master_end : master.front().start;
  } else {
    const LogOffset master_epoch_end =
        mi + 1 < static_cast<int>(master.size()) ? master[mi + 1].start : master_end;
    const LogOffset replica_epoch_end =
        ri + 1 < static_cast<int>(replica.size()) ? replica[ri + 1].start : replica_end;
    agreed = std::min(master_epoch_end, replica_epoch_end);
  }
  agreed = std::min(agreed, master_end);
  return agreed < replica_end ? agreed : kNoLogOffset;
}

}  // namespace tidemq::cluster
