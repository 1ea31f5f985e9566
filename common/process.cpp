#include "common/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <deque>

#include "common/fs.hpp"

namespace cairn {
namespace {

constexpr std::size_t kStderrTailLines = 30;

// Splits a growing buffer into lines, handing each complete line to `sink`.
class LineSplitter {
 public:
  explicit LineSplitter(std::function<void(std::string_view)> sink) : sink_(std::move(sink)) {}
  void feed(std::string_view data) {
    pending_.append(data);
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending_.find_first_of("\n\r", start)) != std::string::npos;) {
      if (nl > start) sink_(std::string_view(pending_).substr(start, nl - start));
      start = nl + 1;
    }
    pending_.erase(0, start);
  }
  void finish() {
    if (!pending_.empty()) sink_(pending_);
    pending_.clear();
  }

 private:
  std::function<void(std::string_view)> sink_;
  std::string pending_;
};

// argv and envp are built before fork(): the child of a multi-threaded process (the OSTree
// copy runs on a second thread) must not allocate or take locks before exec.
struct ExecArgs {
  std::vector<std::string> strings;
  std::vector<char*> argv, envp;
};

ExecArgs prepare_exec(const Command& command) {
  ExecArgs args;
  std::vector<std::string> env;
  for (char** entry = environ; *entry; ++entry) {
    std::string_view text(*entry);
    auto key = text.substr(0, text.find('='));
    bool overridden = false;
    for (const auto& [name, value] : command.env) overridden |= (name == key);
    if (!overridden) env.emplace_back(text);
  }
  for (const auto& [name, value] : command.env) env.push_back(name + "=" + value);
  args.strings = command.argv;
  std::size_t argc = args.strings.size();
  args.strings.insert(args.strings.end(), env.begin(), env.end());
  for (std::size_t i = 0; i < args.strings.size(); ++i) {
    (i < argc ? args.argv : args.envp).push_back(args.strings[i].data());
  }
  args.argv.push_back(nullptr);
  args.envp.push_back(nullptr);
  return args;
}

[[noreturn]] void exec_child(const Command& command, const ExecArgs& args, int stdout_fd,
                             int stderr_fd) {
  ::dup2(stdout_fd, STDOUT_FILENO);
  ::dup2(stderr_fd, STDERR_FILENO);
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
  if (!command.cwd.empty() && ::chdir(command.cwd.c_str()) != 0) _exit(127);
  ::execvpe(args.argv[0], args.argv.data(), args.envp.data());
  _exit(127);
}

}  // namespace

Expected<ProcessResult> SystemProcessRunner::run(const Command& command) {
  if (command.argv.empty()) return fail(Errc::internal, "empty command");
  std::array<int, 2> out_pipe{}, err_pipe{};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0 || ::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    return fail_errno("pipe", errno);
  }
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);

  ExecArgs args = prepare_exec(command);
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork for " + command.argv[0], errno);
  if (pid == 0) exec_child(command, args, out_write.get(), err_write.get());
  out_write.reset();
  err_write.reset();

  ProcessResult result;
  std::deque<std::string> tail;
  LineSplitter err_lines([&](std::string_view line) {
    tail.emplace_back(line);
    if (tail.size() > kStderrTailLines) tail.pop_front();
    if (command.on_stderr_line) command.on_stderr_line(line);
  });
  LineSplitter out_lines([&](std::string_view line) {
    if (command.on_stdout_line) command.on_stdout_line(line);
  });

  std::array<pollfd, 2> fds{pollfd{out_read.get(), POLLIN, 0}, pollfd{err_read.get(), POLLIN, 0}};
  int open_fds = 2;
  std::array<char, 65536> buffer{};
  while (open_fds > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return fail_errno("poll", errno);
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      std::string_view chunk(buffer.data(), static_cast<std::size_t>(n));
      if (i == 0) {
        if (command.capture_stdout)
          result.stdout_text.append(chunk);
        else
          out_lines.feed(chunk);
      } else {
        err_lines.feed(chunk);
      }
    }
  }
  out_lines.finish();
  err_lines.finish();

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return fail_errno("waitpid", errno);
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  for (const auto& line : tail) {
    result.stderr_tail += line;
    result.stderr_tail += '\n';
  }
  if (result.exit_code == 127 && !have_program(command.argv[0])) {
    return fail(Errc::not_found, "program not found: " + command.argv[0] +
                                     " (run deps/install to install Cairn's dependencies)");
  }
  return result;
}

Expected<std::string> run_checked(ProcessRunner& runner, const Command& command) {
  auto result = CAIRN_TRY(runner.run(command));
  if (result.exit_code != 0) {
    std::string message =
        quote_command(command.argv) + " exited with status " + std::to_string(result.exit_code);
    if (!result.stderr_tail.empty()) message += ":\n" + result.stderr_tail;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return fail(Errc::process, std::move(message));
  }
  return std::move(result.stdout_text);
}

Status run_step(ProcessRunner& runner, const Command& command, std::string context) {
  auto result = run_checked(runner, command);
  if (!result) {
    if (!context.empty()) result.error().with_context(std::move(context));
    return std::unexpected(std::move(result).error());
  }
  return {};
}

std::string quote_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"$\\;&|<>()*?") == std::string::npos;
    if (plain) {
      out += arg;
    } else {
      out += '\'';
      for (char c : arg) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

bool have_program(std::string_view name) {
  if (name.find('/') != std::string_view::npos)
    return ::access(std::string(name).c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    auto colon = dirs.find(':');
    std::string candidate(dirs.substr(0, colon));
    candidate += '/';
    candidate += name;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  // sbin directories are not always on a non-root PATH.
  for (const char* dir : {"/usr/sbin/", "/sbin/"}) {
    if (::access((std::string(dir) + std::string(name)).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace cairn
