# Sourced by the benchmark scripts (bench/run_all.sh, bench/peers/run.sh).
# print_machine DIR: the header every run starts with — date, cpus, memory, kernel, the file
# system DIR is on, load — so that figures are read beside the machine they came from.
print_machine() {
  echo "== machine"
  echo "date:   $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpus:   $(nproc)"
  echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
  echo "kernel: $(uname -r)"
  echo "fs:     $(df -T "$1" | awk 'NR == 2 {print $2 " on " $1}') ($1)"
  echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
}
