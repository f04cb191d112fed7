// A strict parser of the Prometheus text exposition format (0.0.4) for tests: it rejects what
// Prometheus would (bad names, bad label syntax, a sample before its TYPE, a value that is not
// a number, a family declared twice) and checks histograms (cumulative buckets, le="+Inf"
// equal to _count). Values are looked up by name and labels.
#pragma once

#include <cmath>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace tidemq::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromExposition {
  std::map<std::string, std::string> types;  // family -> counter | gauge | histogram | ...
  std::map<std::string, std::string> help;
  std::vector<PromSample> samples;

  // The one sample of `name` whose labels include `match`; nullopt when none (or several).
  std::optional<double> Value(const std::string& name,
                              const std::map<std::string, std::string>& match = {}) const {
    std::optional<double> found;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool ok = true;
      for (const auto& [k, v] : match) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) ok = false;
      }
      if (!ok) continue;
      if (found) return std::nullopt;
      found = s.value;
    }
    return found;
  }
};

// Returns an error message, or "" when `text` parsed; fills *out.
inline std::string ParsePrometheus(const std::string& text, PromExposition* out) {
  static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");
  static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary",
                                               "untyped"};
  size_t pos = 0;
  int line_no = 0;
  auto family_of = [&](const std::string& name) -> std::string {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s(suffix);
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        const std::string base = name.substr(0, name.size() - s.size());
        auto it = out->types.find(base);
        if (it != out->types.end() && it->second == "histogram") return base;
      }
    }
    return name;
  };
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) return "the text does not end with a newline";
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::smatch m;
      static const std::regex kMeta("# (HELP|TYPE) ([^ ]+) (.*)");
      if (!std::regex_match(line, m, kMeta)) continue;  // a plain comment
      const std::string name = m[2];
      if (!std::regex_match(name, kName)) return where + "bad metric name " + name;
      if (m[1] == "TYPE") {
        if (!kTypes.count(m[3])) return where + "bad type " + std::string(m[3]);
        if (out->types.count(name)) return where + "TYPE of " + name + " given twice";
        out->types[name] = m[3];
      } else {
        if (out->help.count(name)) return where + "HELP of " + name + " given twice";
        out->help[name] = m[3];
      }
      continue;
    }
    PromSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!std::regex_match(s.name, kName)) return where + "bad sample name '" + s.name + "'";
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) return where + "label without '='";
        const std::string label = line.substr(i, eq - i);
        if (!std::regex_match(label, kLabelName)) return where + "bad label name '" + label + "'";
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') return where + "label value not quoted";
        ++i;
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (i + 1 >= line.size()) return where + "dangling escape";
            const char e = line[i + 1];
            if (e == 'n') value.push_back('\n');
            else if (e == '\\' || e == '"') value.push_back(e);
            else return where + "bad escape";
            i += 2;
          } else {
            value.push_back(line[i++]);
          }
        }
        if (i >= line.size()) return where + "unterminated label value";
        ++i;  // the closing quote
        if (s.labels.count(label)) return where + "label " + label + " twice";
        s.labels[label] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return where + "unterminated label set";
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') return where + "no value";
    const std::string value = line.substr(i + 1);
    if (value == "+Inf") s.value = INFINITY;
    else if (value == "-Inf") s.value = -INFINITY;
    else if (value == "NaN") s.value = NAN;
    else {
      char* end = nullptr;
      s.value = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0') return where + "value '" + value + "' is not a number";
    }
    const std::string family = family_of(s.name);
    if (!out->types.count(family)) return where + "sample of " + s.name + " before its TYPE";
    out->samples.push_back(std::move(s));
  }
  // Histograms: cumulative buckets ending with +Inf == _count, per label set.
  for (const auto& [family, type] : out->types) {
    if (type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> series;
    for (const auto& s : out->samples) {
      if (s.name != family + "_bucket") continue;
      auto labels = s.labels;
      auto le = labels.find("le");
      if (le == labels.end()) return family + ": bucket without le";
      const double bound = le->second == "+Inf" ? INFINITY : std::strtod(le->second.c_str(), nullptr);
      labels.erase(le);
      series[labels].emplace_back(bound, s.value);
    }
    for (const auto& [labels, buckets] : series) {
      for (size_t k = 1; k < buckets.size(); ++k) {
        if (buckets[k].first <= buckets[k - 1].first) return family + ": bounds not ascending";
        if (buckets[k].second < buckets[k - 1].second) return family + ": buckets not cumulative";
      }
      if (buckets.empty() || !std::isinf(buckets.back().first)) return family + ": no +Inf bucket";
      double count = -1;
      for (const auto& s : out->samples) {
        if (s.name == family + "_count" && s.labels == labels) count = s.value;
      }
      if (count != buckets.back().second) return family + ": +Inf bucket differs from _count";
    }
  }
  return "";
}

}  // namespace tidemq::testing
