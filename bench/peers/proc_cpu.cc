#include "bench/peers/proc_cpu.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace tidemq::bench::peers {
namespace {

struct ProcStat {
  int ppid = 0;
  uint64_t own_ticks = 0;       // utime + stime
  uint64_t children_ticks = 0;  // cutime + cstime: children it has reaped
};

// /proc/<pid>/stat: "pid (comm) state ppid ... utime stime cutime cstime ...", fields 4 and
// 14..17; comm may hold spaces and parentheses, so parsing starts after the last ')'.
bool ReadStat(int pid, ProcStat* out) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return false;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return false;
  char state;
  unsigned long long utime, stime;
  long long cutime, cstime;
  int ppid;
  // After ") ": state(3) ppid(4) pgrp session tty_nr tpgid flags minflt cminflt majflt
  // cmajflt utime(14) stime(15) cutime(16) cstime(17).
  if (std::sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &state,
                  &ppid, &utime, &stime, &cutime, &cstime) != 6) {
    return false;
  }
  out->ppid = ppid;
  out->own_ticks = utime + stime;
  out->children_ticks = static_cast<uint64_t>(cutime + cstime);
  return true;
}

}  // namespace

int64_t ProcessCpu::Micros() const {
  std::unordered_map<int, ProcStat> stats;
  std::unordered_map<int, std::vector<int>> children;
  if (DIR* dir = opendir("/proc")) {
    while (dirent* e = readdir(dir)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (end == e->d_name || *end != '\0') continue;
      ProcStat st;
      if (!ReadStat(static_cast<int>(pid), &st)) continue;
      stats[static_cast<int>(pid)] = st;
      children[st.ppid].push_back(static_cast<int>(pid));
    }
    closedir(dir);
  }
  uint64_t ticks = 0;
  std::unordered_set<int> seen;
  std::deque<int> todo;
  for (int root : roots_) {
    auto it = stats.find(root);
    if (it == stats.end()) continue;
    ticks += it->second.children_ticks;
    todo.push_back(root);
  }
  while (!todo.empty()) {
    int pid = todo.front();
    todo.pop_front();
    if (!seen.insert(pid).second) continue;
    ticks += stats[pid].own_ticks;
    for (int child : children[pid]) todo.push_back(child);
  }
  static const long kTicksPerSecond = sysconf(_SC_CLK_TCK);
  return static_cast<int64_t>(ticks * 1'000'000 / static_cast<uint64_t>(kTicksPerSecond));
}

}  // namespace tidemq::bench::peers
