#include "bench/peers/results_table.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace tidemq::bench::peers {
namespace {

using Fields = std::map<std::string, std::string>;

// "RESULT k=v k=v ..." as a map; nullopt for any other line.
std::optional<Fields> ParseResult(const std::string& line) {
  std::istringstream in(line);
  std::string word;
  if (!(in >> word) || word != "RESULT") return std::nullopt;
  Fields fields;
  while (in >> word) {
    size_t eq = word.find('=');
    if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return fields;
}

std::string Get(const Fields& f, const std::string& key) {
  auto it = f.find(key);
  return it == f.end() ? "" : it->second;
}

double Median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// One (shape, system, config) over its rounds.
struct Entry {
  std::string shape, system, config, durability, skipped, method;
  int runs = 0;
  std::map<std::string, std::vector<double>> values;  // figure name -> one per round
  double Med(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? -1 : Median(it->second);
  }
};

constexpr const char* kFigures[] = {"msg_s",          "p50_ms",       "p99_ms",
                                    "cpu_us_per_msg", "deliver_secs", "missing"};
constexpr const char* kShapes[] = {"publish-256", "publish-1", "consume", "schedule"};
constexpr const char* kDurabilities[] = {"durable", "page-cache"};

std::string SystemName(const std::string& s) {
  static const std::map<std::string, std::string> kNames = {{"tidemq", "TideMQ"},
                                                            {"redis", "Redis"},
                                                            {"rabbitmq", "RabbitMQ"},
                                                            {"nats", "NATS JetStream"},
                                                            {"beanstalkd", "beanstalkd"}};
  auto it = kNames.find(s);
  return it == kNames.end() ? s : it->second;
}

std::string ConfigName(const std::string& system, const std::string& config) {
  if (system == "redis") return "appendfsync " + config;
  if (system == "beanstalkd") return "-" + config;
  if (system == "nats" && config == "file") return "file store";
  std::string c = config;
  std::replace(c.begin(), c.end(), '-', ' ');
  return c;
}

std::string ShapeName(const std::string& shape, const std::string& delay_ms) {
  if (shape == "publish-256") return "publish, 256 outstanding, unbatched";
  if (shape == "publish-1") return "publish one at a time";
  if (shape == "consume") return "consume + ack a backlog, 1 consumer, batches of 64";
  if (shape == "schedule") {
    return "due " + (delay_ms.empty() ? std::string("2000") : delay_ms) +
           " ms after an unpaced send: lateness";
  }
  return shape;
}

// 89.8k above 10,000; 1,420 below.
std::string Rate(double v) {
  char buf[32];
  if (v >= 10'000) {
    std::snprintf(buf, sizeof(buf), "%.1fk", v / 1000);
    return buf;
  }
  auto n = static_cast<long long>(v + 0.5);
  std::snprintf(buf, sizeof(buf), n >= 1000 ? "%lld,%03lld" : "%lld", n >= 1000 ? n / 1000 : n,
                n % 1000);
  return buf;
}

std::string Num(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string Ms(double v) { return Num(v, v < 10 ? 2 : 1) + " ms"; }

std::string Cpu(const Entry& e) {
  double cpu = e.Med("cpu_us_per_msg");
  return cpu < 0 ? "" : ", " + Num(cpu, 1) + " µs/msg";
}

bool Lateness(const std::string& shape) { return shape == "schedule"; }

// What a cell says about one entry.
std::string Figure(const Entry& e, bool with_system) {
  std::string s = with_system ? SystemName(e.system) + " " : "";
  s += ConfigName(e.system, e.config) + " ";
  if (Lateness(e.shape)) {
    s += "p50 " + Ms(e.Med("p50_ms")) + ", p99 " + Ms(e.Med("p99_ms"));
    if (e.Med("missing") > 0) s += ", " + Num(e.Med("missing"), 0) + " missing";
  } else {
    s += Rate(e.Med("msg_s")) + " msg/s";
    if (e.shape == "publish-1") s += " (p50 " + Ms(e.Med("p50_ms")) + ")";
  }
  return s + Cpu(e);
}

// Larger is better for both: msg/s, or the inverse of p99 lateness.
double Score(const Entry& e) {
  if (!Lateness(e.shape)) return e.Med("msg_s");
  double p99 = e.Med("p99_ms");
  return p99 > 0 ? 1.0 / p99 : 0;
}

}  // namespace

int PrintResultsTable(const std::string& results_path) {
  std::ifstream in(results_path);
  if (!in) {
    std::fprintf(stderr, "error: cannot read %s\n", results_path.c_str());
    return 1;
  }
  std::vector<Entry> entries;
  Fields machine;  // dd and the fdatasync loop: their fields merged
  std::string delay_ms;
  std::string line;
  while (std::getline(in, line)) {
    auto fields = ParseResult(line);
    if (!fields) continue;
    const std::string shape = Get(*fields, "shape");
    if (shape == "machine") {
      for (const auto& [k, v] : *fields) machine[k] = v;
      continue;
    }
    if (shape == "schedule" && delay_ms.empty()) delay_ms = Get(*fields, "delay_ms");
    auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) {
      return e.shape == shape && e.system == Get(*fields, "system") &&
             e.config == Get(*fields, "config");
    });
    if (it == entries.end()) {
      Entry e;
      e.shape = shape;
      e.system = Get(*fields, "system");
      e.config = Get(*fields, "config");
      e.durability = Get(*fields, "durability");
      entries.push_back(std::move(e));
      it = entries.end() - 1;
    }
    if (!Get(*fields, "skipped").empty()) {
      it->skipped = Get(*fields, "skipped");
      continue;
    }
    if (!Get(*fields, "method").empty()) it->method = Get(*fields, "method");
    ++it->runs;
    for (const char* name : kFigures) {
      std::string v = Get(*fields, name);
      if (!v.empty()) it->values[name].push_back(std::atof(v.c_str()));
    }
  }

  for (const Entry& e : entries) {
    std::printf("MEDIAN shape=%s system=%s config=%s durability=%s runs=%d", e.shape.c_str(),
                e.system.c_str(), e.config.c_str(), e.durability.c_str(), e.runs);
    if (!e.skipped.empty()) std::printf(" skipped=%s", e.skipped.c_str());
    for (const char* name : kFigures) {
      double v = e.Med(name);
      if (v >= 0) std::printf(" %s=%s", name, Num(v, v < 100 ? 3 : 0).c_str());
    }
    if (!e.method.empty()) std::printf(" method=%s", e.method.c_str());
    std::printf("\n");
  }

  std::printf(
      "\n| load shape | durability | TideMQ | best peer of equal durability | ratio (> 1: TideMQ "
      "ahead) | other peers |\n|---|---|---|---|---|---|\n");
  const Entry* tidemq_one_at_a_time_durable = nullptr;
  const Entry* peer_one_at_a_time_durable = nullptr;
  for (const char* shape : kShapes) {
    for (const char* durability : kDurabilities) {
      const Entry* tidemq = nullptr;
      const Entry* best = nullptr;
      std::vector<const Entry*> others;
      std::vector<std::string> skipped;
      for (const Entry& e : entries) {
        if (e.shape != shape || e.durability != durability) continue;
        if (!e.skipped.empty()) {
          std::string why = e.skipped;  // no-scheduled-messages: no scheduled messages
          std::replace(why.begin(), why.end(), '-', ' ');
          skipped.push_back(SystemName(e.system) + " " + ConfigName(e.system, e.config) + ": " +
                            why);
          continue;
        }
        if (e.runs == 0) continue;
        if (e.system == "tidemq") {
          if (tidemq == nullptr || Score(e) > Score(*tidemq)) tidemq = &e;
          continue;
        }
        if (best == nullptr || Score(e) > Score(*best)) {
          if (best != nullptr) others.push_back(best);
          best = &e;
        } else {
          others.push_back(&e);
        }
      }
      if (tidemq == nullptr && best == nullptr) continue;
      std::string ratio = "—";
      if (tidemq != nullptr && best != nullptr && Score(*best) > 0) {
        ratio = Num(Score(*tidemq) / Score(*best), 2) + "×";
        if (Lateness(shape)) ratio += " (p99)";
      }
      std::string rest;
      for (const Entry* e : others) rest += (rest.empty() ? "" : "; ") + Figure(*e, true);
      for (const std::string& s : skipped) rest += (rest.empty() ? "" : "; ") + s;
      std::printf("| %s | %s | %s | %s | %s | %s |\n", ShapeName(shape, delay_ms).c_str(),
                  durability, tidemq ? Figure(*tidemq, false).c_str() : "—",
                  best ? Figure(*best, true).c_str() : "—", ratio.c_str(), rest.c_str());
      if (std::string(shape) == "publish-1" && std::string(durability) == "durable") {
        tidemq_one_at_a_time_durable = tidemq;
        peer_one_at_a_time_durable = best;
      }
    }
  }
  if (!machine.empty()) {
    const double appends = std::atof(Get(machine, "fdatasync_s").c_str());
    const double overwrites = std::atof(Get(machine, "fdatasync_overwrite_s").c_str());
    std::string cell = "dd " + Get(machine, "dd_mb_s") +
                       " MB/s; fdatasync/s after 4 KiB: " + Rate(appends) + " appended, " +
                       Rate(overwrites) + " overwritten";
    std::string note;
    auto share = [&](const Entry* e) {
      if (e == nullptr || appends <= 0 || overwrites <= 0) return;
      const double rate = e->Med("msg_s");
      note += (note.empty() ? "" : "; ") + SystemName(e->system) + " " +
              ConfigName(e->system, e->config) + " one at a time: " + Num(100 * rate / appends, 0) +
              " % of the appended, " + Num(100 * rate / overwrites, 0) +
              " % of the overwritten rate";
    };
    share(tidemq_one_at_a_time_durable);
    share(peer_one_at_a_time_durable);
    std::printf("| machine limit, same run | | %s | | | %s |\n", cell.c_str(), note.c_str());
  }
  return 0;
}

}  // namespace tidemq::bench::peers
