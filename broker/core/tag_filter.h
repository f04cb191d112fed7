// Tag filters of a receive ("", "*" or "a||b||c"): parsed once per receive into the tags and
// their hashes. The consume queue stores each message's tag hash, so a queue entry whose hash
// is not in the filter is skipped without reading its record; a hash collision is caught by
// Matches() once the record is read.
//
// Owns: the parsed filter of one receive (immutable after Parse). Pure: callable from any
// thread, no lock.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "common/status.h"

namespace tidemq::broker {

// Parses "", "*" or "a||b||c" into a set of tags (empty = everything). Surrounding spaces are
// allowed; an empty or "*" alternative, or an invalid tag, is kInvalidArgument.
Result<std::set<std::string>> ParseTagFilter(const std::string& expr);

class TagFilter {
 public:
  static Result<TagFilter> Parse(const std::string& expr);

  bool all() const { return tags_.empty(); }
  // A queue entry's tag hash may be of a matching message.
  bool MayMatchHash(uint32_t tag_hash) const {
    return hashes_.empty() || hashes_.count(tag_hash) > 0;
  }
  // A record's tag matches.
  bool Matches(const std::string& tag) const { return tags_.empty() || tags_.count(tag) > 0; }
  const std::set<std::string>& tags() const { return tags_; }

 private:
  std::set<std::string> tags_;
  std::set<uint32_t> hashes_;
};

}  // namespace tidemq::broker
