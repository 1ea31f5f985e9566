#include "support/background_process.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <thread>
#include <utility>

namespace cairn::testing {

Expected<BackgroundProcess> BackgroundProcess::start(const std::vector<std::string>& argv,
                                                     const std::filesystem::path& log) {
  if (argv.empty()) return fail(Errc::internal, "BackgroundProcess::start: empty argv");
  // Everything the child needs is prepared before fork: the test process may have threads.
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return fail_errno("opening " + log.string(), errno);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(log_fd);
    return fail_errno("fork for " + argv[0], err);
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  ::setpgid(pid, pid);  // also from the parent, so stop() works even before the child ran
  return BackgroundProcess(pid, argv[0]);
}

BackgroundProcess::BackgroundProcess(BackgroundProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      name_(std::move(other.name_)),
      exit_code_(other.exit_code_) {}

BackgroundProcess& BackgroundProcess::operator=(BackgroundProcess&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = std::exchange(other.pid_, -1);
    name_ = std::move(other.name_);
    exit_code_ = other.exit_code_;
  }
  return *this;
}

bool BackgroundProcess::reap(int options) {
  if (pid_ < 0) return true;
  int status = 0;
  pid_t done = ::waitpid(pid_, &status, options);
  if (done == 0) return false;
  if (done == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // The group may hold helpers the process started: they go with it.
  ::kill(-pid_, SIGKILL);
  pid_ = -1;
  return true;
}

bool BackgroundProcess::running() { return !reap(WNOHANG); }

Expected<int> BackgroundProcess::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reap(WNOHANG)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail(Errc::busy,
                  name_ + " still running after " + std::to_string(timeout.count() / 1000) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return exit_code_;
}

void BackgroundProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ < 0) return;
  ::kill(-pid_, SIGTERM);
  if (!wait(grace)) {
    ::kill(-pid_, SIGKILL);
    reap(0);
  }
}

}  // namespace cairn::testing
