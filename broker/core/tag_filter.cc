#include "broker/core/tag_filter.h"

#include "common/names.h"
#include "store/record.h"

namespace tidemq::broker {

Result<std::set<std::string>> ParseTagFilter(const std::string& expr) {
  std::set<std::string> tags;
  if (expr.empty() || expr == "*") return tags;
  size_t start = 0;
  while (true) {
    size_t bar = expr.find("||", start);
    std::string tag =
        expr.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
    // Surrounding spaces are allowed in expressions ("a || b").
    tag.erase(0, tag.find_first_not_of(' '));
    tag.erase(tag.find_last_not_of(' ') + 1);
    if (tag.empty() || tag == "*") {
      return InvalidArgument("tag filter '" + expr + "' has an empty or '*' alternative");
    }
    RETURN_IF_ERROR(ValidateTag(tag));
    tags.insert(tag);
    if (bar == std::string::npos) break;
    start = bar + 2;
  }
  return tags;
}

Result<TagFilter> TagFilter::Parse(const std::string& expr) {
  TagFilter f;
  ASSIGN_OR_RETURN(f.tags_, ParseTagFilter(expr));
  for (const auto& t : f.tags_) f.hashes_.insert(store::TagHash(t));
  return f;
}

}  // namespace tidemq::broker
