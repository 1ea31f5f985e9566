// cairn-poll-trigger: what cairn-update-poll.service runs when cairn-update.timer fires. It
// connects to the daemon's poll trigger socket, waits for the poll to end and prints the
// daemon's answer (poll_trigger.hpp). Linked statically and written against libc alone: on a
// quiet poll this process is most of the CPU a poll costs, and a dynamically linked one spends
// more on loading its libraries than the daemon spends on the poll.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

constexpr const char* kDefaultSocket = "/run/cairn-update/poll.socket";
constexpr std::size_t kMaxAnswer = 64 * 1024;

int usage(std::FILE* to, int status) {
  std::fprintf(to,
               "usage: cairn-poll-trigger [SOCKET]\n"
               "Asks the running cairn-update daemon for one poll of its fleet channel, through\n"
               "its poll trigger socket (default %s), and prints the\n"
               "result. Exit status: 0 the poll ran, 1 it failed, 2 the daemon was not reached.\n",
               kDefaultSocket);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const char* path = kDefaultSocket;
  if (argc > 2) return usage(stderr, 2);
  if (argc == 2) {
    if (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
      return usage(stdout, 0);
    }
    path = argv[1];
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (std::strlen(path) >= sizeof address.sun_path) {
    std::fprintf(stderr, "cairn-poll-trigger: socket path %s is too long\n", path);
    return 2;
  }
  std::strcpy(address.sun_path, path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::fprintf(stderr,
                 "cairn-poll-trigger: cannot reach the cairn-update daemon at %s: %s (is "
                 "cairn-update-poll.socket listening?)\n",
                 path, std::strerror(errno));
    return 2;
  }
  // The answer comes when the poll ends: after a download and an install, that may be hours.
  static char answer[kMaxAnswer + 1];
  std::size_t size = 0;
  while (size < kMaxAnswer) {
    ssize_t got = ::read(fd, answer + size, kMaxAnswer - size);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    size += static_cast<std::size_t>(got);
  }
  ::close(fd);
  answer[size] = '\0';
  if (std::strncmp(answer, "ok ", 3) == 0) {
    std::fputs(answer + 3, stdout);
    return 0;
  }
  if (std::strncmp(answer, "failed ", 7) == 0) {
    std::fprintf(stderr, "cairn-poll-trigger: the poll failed: %s", answer + 7);
    return 1;
  }
  std::fprintf(stderr, "cairn-poll-trigger: the daemon ended the connection without an answer\n");
  return 1;
}
