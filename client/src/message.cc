#include "tidemq/message.h"

#include <string_view>

#include "common/names.h"

namespace tidemq {
namespace {

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t extra;
    if (c < 0x80) {
      extra = 0;
    } else if ((c >> 5) == 0x6) {
      extra = 1;
    } else if ((c >> 4) == 0xE) {
      extra = 2;
    } else if ((c >> 3) == 0x1E) {
      extra = 3;
    } else {
      return false;
    }
    if (extra > s.size() - i - 1) return false;
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += extra + 1;
  }
  return true;
}

Status ValidateKey(std::string_view key) {
  if (key.empty()) return InvalidArgument("message key is empty");
  if (key.size() > kMaxKeyLength) {
    return InvalidArgument("message key is " + std::to_string(key.size()) +
                           " bytes; the limit is " + std::to_string(kMaxKeyLength));
  }
  return Status::Ok();
}

}  // namespace

Message::Builder Message::NewBuilder() { return Builder(); }

Message::Builder& Message::Builder::Topic(std::string topic) {
  m_.topic_ = std::move(topic);
  return *this;
}
Message::Builder& Message::Builder::Body(std::string body) {
  m_.body_ = std::move(body);
  return *this;
}
Message::Builder& Message::Builder::Tag(std::string tag) {
  m_.tag_ = std::move(tag);
  return *this;
}
Message::Builder& Message::Builder::Keys(std::vector<std::string> keys) {
  m_.keys_ = std::move(keys);
  return *this;
}
Message::Builder& Message::Builder::Key(std::string key) {
  m_.keys_.push_back(std::move(key));
  return *this;
}
Message::Builder& Message::Builder::Property(std::string key, std::string value) {
  m_.properties_[std::move(key)] = std::move(value);
  return *this;
}
Message::Builder& Message::Builder::MessageGroup(std::string group) {
  m_.message_group_ = std::move(group);
  return *this;
}
Message::Builder& Message::Builder::DeliverAt(int64_t epoch_ms) {
  m_.deliver_at_ms_ = epoch_ms;
  return *this;
}
Message::Builder& Message::Builder::Delay(int64_t delay_ms) {
  m_.delay_ms_ = delay_ms;
  return *this;
}

Message::Builder& Message::Builder::TransactionCheckTimeout(int64_t timeout_ms) {
  m_.transaction_check_timeout_ms_ = timeout_ms;
  return *this;
}

Result<Message> Message::Builder::Build() const {
  RETURN_IF_ERROR(ValidateTopicName(m_.topic_));
  RETURN_IF_ERROR(ValidateTag(m_.tag_));
  if (m_.body_.size() > kMaxMessageBodyBytes) {
    return Status(Code::kTooLarge, "message body is " + std::to_string(m_.body_.size()) +
                                       " bytes; the limit is " +
                                       std::to_string(kMaxMessageBodyBytes));
  }
  if (m_.keys_.size() > kMaxKeysPerMessage) {
    return InvalidArgument("message has " + std::to_string(m_.keys_.size()) +
                           " keys; the limit is " + std::to_string(kMaxKeysPerMessage));
  }
  for (const auto& k : m_.keys_) RETURN_IF_ERROR(ValidateKey(k));
  if (m_.properties_.size() > kMaxPropertyCount) {
    return InvalidArgument("message has " + std::to_string(m_.properties_.size()) +
                           " properties; the limit is " + std::to_string(kMaxPropertyCount));
  }
  for (const auto& [k, v] : m_.properties_) {
    if (k.empty()) return InvalidArgument("property name is empty");
    if (k.size() > kMaxPropertyKeyLength) {
      return InvalidArgument("property name is " + std::to_string(k.size()) +
                             " bytes; the limit is " + std::to_string(kMaxPropertyKeyLength));
    }
    // Property names travel as a protobuf `string` map key, which must be UTF-8.
    if (!IsValidUtf8(k)) return InvalidArgument("property name is not valid UTF-8");
    if (v.size() > kMaxPropertyValueLength) {
      return InvalidArgument("property '" + k + "' value is " + std::to_string(v.size()) +
                             " bytes; the limit is " + std::to_string(kMaxPropertyValueLength));
    }
  }
  if (m_.message_group_.size() > kMaxKeyLength) {
    return InvalidArgument("message group is " + std::to_string(m_.message_group_.size()) +
                           " bytes; the limit is " + std::to_string(kMaxKeyLength));
  }
  if (m_.deliver_at_ms_ < 0) return InvalidArgument("deliver-at time is negative");
  if (m_.delay_ms_ < 0) return InvalidArgument("delay is negative");
  if (m_.deliver_at_ms_ > 0 && m_.delay_ms_ > 0) {
    return InvalidArgument("set either a delivery time or a delay, not both");
  }
  if (m_.transaction_check_timeout_ms_ < 0) {
    return InvalidArgument("transaction check timeout is negative");
  }
  return m_;
}

}  // namespace tidemq
