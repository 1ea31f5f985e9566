#include "updater/poll_trigger.hpp"

#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace cairn::updater {

std::optional<int> passed_poll_trigger() {
  char** names = nullptr;
  int count = sd_listen_fds_with_names(0, &names);
  std::optional<int> found;
  for (int i = 0; i < std::max(count, 0); ++i) {
    if (names && names[i] && std::string_view(names[i]) == kPollTriggerName &&
        sd_is_socket_unix(SD_LISTEN_FDS_START + i, SOCK_STREAM, 1, nullptr, 0) > 0) {
      found = SD_LISTEN_FDS_START + i;
    }
  }
  if (names) {
    for (int i = 0; i < std::max(count, 0); ++i) std::free(names[i]);
    std::free(names);
  }
  return found;
}

Expected<UniqueFd> accept_poll_trigger(int listening) {
  UniqueFd connection(::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!connection) {
    return fail(Errc::io, std::string("accepting a poll trigger: ") + std::strerror(errno));
  }
  ucred peer{};
  socklen_t size = sizeof peer;
  if (::getsockopt(connection.get(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) {
    return fail(Errc::io,
                std::string("reading a poll trigger's credentials: ") + std::strerror(errno));
  }
  if (peer.uid != 0 && peer.uid != ::getuid()) {
    send_poll_trigger_answer(std::move(connection), "failed only root may trigger a poll\n");
    return fail(Errc::permission, "refused a poll trigger from uid " + std::to_string(peer.uid));
  }
  return connection;
}

std::string poll_trigger_answer(const Expected<PollResult>& result) {
  std::string line = result ? "ok " + result->message : "failed " + result.error().describe();
  std::ranges::replace(line, '\n', ' ');
  return line + "\n";
}

void send_poll_trigger_answer(UniqueFd connection, std::string_view answer) {
  // The line is far smaller than a socket's buffer: one send, never blocking the event loop,
  // and no SIGPIPE from a caller that is gone.
  (void)::send(connection.get(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace cairn::updater
