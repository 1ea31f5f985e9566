#include "process_snapshot.hpp"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "common/fs.hpp"

namespace cairn::qemu {

namespace fs = std::filesystem;

namespace {

// /proc files report no size; read_file reads to the end. An unreadable one (a thread that just
// ended) is simply empty.
std::string read_text(const fs::path& path) { return read_file(path).value_or(""); }

struct ThreadState {
  std::string name;
  char state = '?';
  long long cpu_ticks = 0;  // utime + stime
};

// /proc/PID/task/TID/stat: "tid (comm) state ..." with utime and stime as fields 14 and 15; the
// comm may hold spaces and parentheses, so fields are counted from the last ')'.
ThreadState read_thread(const fs::path& task) {
  ThreadState out;
  out.name = read_text(task / "comm");
  if (!out.name.empty() && out.name.back() == '\n') out.name.pop_back();
  std::string stat = read_text(task / "stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  std::vector<std::string> rest;
  while (fields >> field) rest.push_back(field);
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  if (rest.size() > 12) {
    out.state = rest[0].empty() ? '?' : rest[0][0];
    out.cpu_ticks = std::stoll(rest[11]) + std::stoll(rest[12]);
  }
  return out;
}

std::map<std::string, ThreadState> read_threads(pid_t pid) {
  std::map<std::string, ThreadState> out;
  std::error_code ec;
  for (const auto& task :
       fs::directory_iterator(fs::path("/proc") / std::to_string(pid) / "task", ec)) {
    out[task.path().filename().string()] = read_thread(task.path());
  }
  return out;
}

std::string first_stack_frames(const fs::path& task, int count) {
  std::istringstream stack(read_text(task / "stack"));
  std::string line, out;
  for (int i = 0; i < count && std::getline(stack, line); ++i) {
    auto space = line.find(' ');
    out +=
        (out.empty() ? "" : " < ") + (space == std::string::npos ? line : line.substr(space + 1));
  }
  return out;
}

}  // namespace

std::string describe_processes(const std::vector<pid_t>& pids, std::chrono::milliseconds sample) {
  std::vector<std::map<std::string, ThreadState>> before;
  for (pid_t pid : pids) before.push_back(read_threads(pid));
  std::this_thread::sleep_for(sample);
  double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ostringstream out;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    fs::path proc = fs::path("/proc") / std::to_string(pids[i]);
    std::string cmdline = read_text(proc / "cmdline");
    out << "process " << pids[i] << " " << cmdline.substr(0, cmdline.find('\0')) << ":\n";
    for (const auto& [tid, now] : read_threads(pids[i])) {
      auto then = before[i].find(tid);
      long long used = then == before[i].end() ? 0 : now.cpu_ticks - then->second.cpu_ticks;
      fs::path task = proc / "task" / tid;
      std::string wchan = read_text(task / "wchan");
      out << "  thread " << tid << " " << now.name << ": state " << now.state << ", "
          << static_cast<double>(used) / ticks_per_second << " s CPU in "
          << std::chrono::duration<double>(sample).count() << " s, waiting in "
          << (wchan.empty() || wchan == "0" ? "-" : wchan) << " [" << first_stack_frames(task, 4)
          << "]\n";
    }
  }
  return out.str();
}

}  // namespace cairn::qemu
