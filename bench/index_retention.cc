// tidemq-index-bench: the store's derived state under a steady produce with short retention
// (issue 11). Appends messages (each with a message id and two keys) at a fixed rate straight
// into a store (no broker, no network), changes metadata like a broker does (a consumer
// offsets record every 100 ms, a topic created and deleted every second), runs retention
// every second and prints, once a second, the sizes on disk of the CommitLog, the index
// (LevelDB: key / message-id index, checkpoints, metadata) and the consume queues, and the
// number of metadata keys. With retention working, the log, the index and the metadata stay
// flat after the first retention period; before issue 11 the index grew without bound.
//
//   tidemq-index-bench --dir /tmp/ib --seconds 60 --rate 20000 --retention-s 5 --segment-mb 8
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
using tidemq::store::MetaChange;
using tidemq::store::Record;
using tidemq::store::RecordType;
using tidemq::store::Store;
using tidemq::store::StoreOptions;

// Bytes the files under `dir` take on disk (allocated blocks, as du counts them).
int64_t DiskBytes(const fs::path& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    struct stat st {};
    if (it->is_regular_file(ec) && ::stat(it->path().c_str(), &st) == 0) {
      total += static_cast<int64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

double Mib(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tidemq-index-bench: index and metadata size under produce + retention"};
  std::string dir = "/tmp/tidemq-index-bench";
  int seconds = 60;
  int rate = 20'000;
  int retention_s = 5;
  int segment_mb = 8;
  int body_bytes = 200;
  int groups = 50;
  uint32_t queue_entries = 20'000;
  app.add_option("--dir", dir, "data directory (emptied first)");
  app.add_option("--seconds", seconds, "how long to produce");
  app.add_option("--rate", rate, "messages per second");
  app.add_option("--retention-s", retention_s, "retention of the log, seconds");
  app.add_option("--segment-mb", segment_mb, "CommitLog segment size, MiB");
  app.add_option("--body-bytes", body_bytes, "message body size");
  app.add_option("--groups", groups, "consumer groups whose offsets are flushed every 100 ms");
  app.add_option("--queue-entries-per-file", queue_entries,
                 "consume queue file size in entries (retention deletes whole files)");
  CLI11_PARSE(app, argc, argv);

  fs::remove_all(dir);
  StoreOptions options;
  options.data_dir = dir;
  options.segment_bytes = static_cast<uint64_t>(segment_mb) << 20;
  options.retention_ms = int64_t{retention_s} * 1000;
  options.flush_policy = tidemq::store::FlushPolicy::kAsync;
  options.queue_entries_per_file = queue_entries;
  spdlog::set_level(spdlog::level::warn);  // one "deleted segment" line a second otherwise
  auto opened = Store::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Store> store = std::move(opened).value();

  std::printf("# rate=%d msg/s body=%d B segment=%d MiB retention=%d s groups=%d\n", rate,
              body_bytes, segment_mb, retention_s, groups);
  std::printf("%6s %10s %8s %9s %10s %10s %9s %9s %10s %12s\n", "t_s", "messages", "log_MiB",
              "segments", "index_MiB", "queues_MiB", "meta_keys", "meta_KiB", "trimmed",
              "snapshot_at");
  const std::string body(static_cast<size_t>(body_bytes), 'x');
  const auto start = std::chrono::steady_clock::now();
  constexpr int kBatch = 100;  // messages per append; rate is kept per 10 ms tick
  int64_t sent = 0;
  int64_t offsets_version = 0;
  int64_t topics_made = 0;
  auto next_report = start + std::chrono::seconds(1);
  auto next_offsets = start;
  auto next_topic = start;
  std::atomic<int64_t> errors{0};
  while (std::chrono::steady_clock::now() < start + std::chrono::seconds(seconds)) {
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const int64_t due = static_cast<int64_t>(elapsed * rate);
    while (sent < due) {
      std::vector<Record> records;
      for (int i = 0; i < kBatch && sent < due; ++i, ++sent) {
        Record r;
        r.type = RecordType::kMessage;
        r.topic = "orders";
        r.queue_id = static_cast<uint32_t>(sent % 8);
        r.message_id = "id-" + std::to_string(sent);
        r.keys = {"order-" + std::to_string(sent), "customer-" + std::to_string(sent % 10'000)};
        r.body = body;
        records.push_back(std::move(r));
      }
      store->Append(std::move(records), [&errors](const tidemq::Status& st, auto) {
        if (!st.ok()) errors.fetch_add(1);
      });
    }
    if (now >= next_offsets) {  // a broker's offsets flush: every group's queues
      MetaChange change;
      ++offsets_version;
      for (int g = 0; g < groups; ++g) {
        for (int q = 0; q < 8; ++q) {
          change.Put("offset/group-" + std::to_string(g) + "/orders/" + std::to_string(q) + "/",
                     "{\"committed\":" + std::to_string(offsets_version * 100) +
                         ",\"next\":0,\"attempts\":[],\"lost\":0}");
        }
      }
      store->AppendMeta(std::move(change), [&errors](const tidemq::Status& st) {
        if (!st.ok()) errors.fetch_add(1);
      });
      next_offsets += std::chrono::milliseconds(100);
    }
    if (now >= next_topic) {  // topic churn: one created and the previous one deleted
      MetaChange change;
      change.Put("topic/churn-" + std::to_string(topics_made), "{\"queues\":1}");
      if (topics_made > 0) {
        change.Delete("topic/churn-" + std::to_string(topics_made - 1))
            .DropTopicQueues("churn-" + std::to_string(topics_made - 1));
      }
      ++topics_made;
      store->AppendMeta(std::move(change), [&errors](const tidemq::Status& st) {
        if (!st.ok()) errors.fetch_add(1);
      });
      next_topic += std::chrono::seconds(1);
    }
    if (now >= next_report) {
      auto deleted = store->RunRetention();
      if (!deleted.ok())
        std::fprintf(stderr, "retention: %s\n", deleted.status().ToString().c_str());
      const auto stats = store->Stats();
      const auto meta = store->ScanMeta("");
      size_t meta_bytes = 0;
      if (meta.ok()) {
        for (const auto& [k, v] : *meta) meta_bytes += k.size() + v.size();
      }
      std::printf("%6.0f %10lld %8.1f %9lld %10.2f %10.2f %9zu %9.1f %10lld %12lld\n", elapsed,
                  static_cast<long long>(sent), Mib(DiskBytes(fs::path(dir) / "commitlog")),
                  static_cast<long long>(stats.segments), Mib(DiskBytes(fs::path(dir) / "index")),
                  Mib(DiskBytes(fs::path(dir) / "consumequeue")), meta.ok() ? meta->size() : 0,
                  static_cast<double>(meta_bytes) / 1024,
                  static_cast<long long>(stats.index_entries_trimmed),
                  static_cast<long long>(stats.meta_snapshot_offset));
      std::fflush(stdout);
      next_report += std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // pacing tick
  }
  store.reset();
  std::printf("# errors=%lld\n", static_cast<long long>(errors.load()));
  fs::remove_all(dir);
  return errors.load() == 0 ? 0 : 1;
}
