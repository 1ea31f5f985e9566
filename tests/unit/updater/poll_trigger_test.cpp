#include "updater/poll_trigger.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <string>

using namespace cairn;
using namespace cairn::updater;

namespace {

struct ListeningSocket {
  TempDir dir =
      TempDir::create(std::filesystem::temp_directory_path(), "cairn-poll-trigger-").value();
  UniqueFd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  sockaddr_un address{.sun_family = AF_UNIX, .sun_path = {}};

  ListeningSocket() {
    auto path = (dir.path() / "poll.socket").string();
    REQUIRE(path.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd.get(), 4) == 0);
  }
  UniqueFd connect() const {
    UniqueFd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) ==
            0);
    return client;
  }
};

std::string read_all(int fd) {
  std::string text;
  char buffer[256];
  ssize_t got;
  while ((got = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, got);
  return text;
}

}  // namespace

TEST_CASE("a poll trigger's answer is one line saying ok or failed", "[poll-trigger]") {
  CHECK(poll_trigger_answer(PollResult{.message = "up to date (1.0.0, serial 3)"}) ==
        "ok up to date (1.0.0, serial 3)\n");
  Expected<PollResult> failed = fail(Errc::invalid_input, "update.toml: line 2: bad\nvalue");
  auto answer = poll_trigger_answer(failed);
  CHECK(answer.starts_with("failed "));
  CHECK_THAT(answer, Catch::Contains("update.toml: line 2: bad value"));
  CHECK(answer.find('\n') == answer.size() - 1);
}

TEST_CASE("the daemon's own user triggers a poll and reads the answer", "[poll-trigger]") {
  ListeningSocket listening;
  auto client = listening.connect();
  auto connection = accept_poll_trigger(listening.fd.get());
  REQUIRE(connection.has_value());
  send_poll_trigger_answer(std::move(*connection), "ok nothing new\n");
  CHECK(read_all(client.get()) == "ok nothing new\n");
}

TEST_CASE("answering a trigger that already left is no error", "[poll-trigger]") {
  ListeningSocket listening;
  auto client = listening.connect();
  auto connection = accept_poll_trigger(listening.fd.get());
  REQUIRE(connection.has_value());
  client.reset();
  // Without MSG_NOSIGNAL this would raise SIGPIPE and end the test binary.
  send_poll_trigger_answer(std::move(*connection), "ok nothing new\n");
  SUCCEED("no SIGPIPE");
}

TEST_CASE("accepting on a socket that is not listening fails with the reason", "[poll-trigger]") {
  UniqueFd not_listening(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto connection = accept_poll_trigger(not_listening.get());
  REQUIRE_FALSE(connection.has_value());
  CHECK(connection.error().code() == Errc::io);
  CHECK_THAT(connection.error().describe(), Catch::Contains("accepting a poll trigger"));
}
