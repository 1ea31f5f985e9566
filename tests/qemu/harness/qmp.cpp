#include "qmp.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace cairn::qemu {

namespace {

using Clock = std::chrono::steady_clock;

Expected<UniqueFd> connect_unix(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof address.sun_path) {
    return fail(Errc::invalid_input, "QMP socket path too long: " + path.string());
  }
  std::strcpy(address.sun_path, path.c_str());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) {
    return fail_errno("connecting to " + path.string(), errno);
  }
  return fd;
}

}  // namespace

Expected<QmpClient> QmpClient::connect(const std::filesystem::path& socket,
                                       std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  Expected<UniqueFd> fd = connect_unix(socket);
  while (!fd && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fd = connect_unix(socket);
  }
  if (!fd) {
    return fail(Errc::unavailable,
                "QMP: no QEMU listening on " + socket.string() + ": " + fd.error().message());
  }
  QmpClient client(std::move(*fd));
  auto greeting = CAIRN_TRY(client.read_message(timeout));
  if (!greeting.contains("QMP")) {
    return fail(Errc::process, "QMP: unexpected greeting " + greeting.dump());
  }
  CAIRN_TRY(client.execute("qmp_capabilities"));
  return client;
}

Status QmpClient::send(const nlohmann::json& message) {
  std::string line = message.dump() + "\n";
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::send(fd_.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("QMP send", errno);
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Expected<nlohmann::json> QmpClient::read_message(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto newline = buffer_.find('\n'); newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      auto message = nlohmann::json::parse(line, nullptr, false);
      if (message.is_discarded()) return fail(Errc::process, "QMP: not JSON: " + line);
      return message;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return fail(Errc::busy, "QMP: no answer in time");
    pollfd pfd{.fd = fd_.get(), .events = POLLIN, .revents = 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return fail_errno("QMP poll", errno);
    if (ready == 0) continue;
    char chunk[4096];
    ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("QMP read", errno);
    if (n == 0) return fail(Errc::unavailable, "QMP: QEMU closed the connection");
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

Expected<nlohmann::json> QmpClient::execute(const std::string& command,
                                            const nlohmann::json& arguments) {
  nlohmann::json request = {{"execute", command}};
  if (!arguments.empty()) request["arguments"] = arguments;
  CAIRN_CHECK(send(request));
  for (;;) {
    auto message = CAIRN_TRY(read_message(std::chrono::seconds(30)));
    if (message.contains("event")) {
      events_.push_back(std::move(message));
      continue;
    }
    if (message.contains("error")) {
      return fail(Errc::process, "QMP " + command + ": " +
                                     message["error"].value("desc", message["error"].dump()));
    }
    if (message.contains("return")) return message["return"];
  }
}

void QmpClient::read_remaining_events() {
  for (;;) {
    auto message = read_message(std::chrono::seconds(1));
    if (!message) return;  // closed (QEMU exited) or nothing more for now
    if (message->contains("event")) events_.push_back(std::move(*message));
  }
}

Status QmpClient::send_only(const std::string& command) { return send({{"execute", command}}); }

bool QmpClient::saw_event(std::string_view name) const {
  for (const auto& event : events_) {
    if (event.value("event", "") == name) return true;
  }
  return false;
}

}  // namespace cairn::qemu
