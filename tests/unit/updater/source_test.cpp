// BundleSource over http against a server in this process that answers as a test needs — a
// Content-Length longer than what it sends, or none — and then holds the connection open.
#include "updater/source.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "common/hash.hpp"

using namespace cairn;
using namespace cairn::updater;
using namespace std::chrono_literals;

namespace {

// Answers one request on 127.0.0.1 with `response`, then keeps the connection open (never
// closing it first, as a stalled or lying server would) until destroyed.
class HoldingServer {
 public:
  explicit HoldingServer(std::string response) {
    listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
    socklen_t length = sizeof(address);
    REQUIRE(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
    REQUIRE(::listen(listener_.get(), 1) == 0);
    REQUIRE(::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this, response = std::move(response)] {
      UniqueFd connection(::accept(listener_.get(), nullptr, nullptr));
      if (!connection) return;
      std::string request;
      char buffer[1024];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(connection.get(), buffer, sizeof(buffer), 0);
        if (n <= 0) return;
        request.append(buffer, static_cast<std::size_t>(n));
      }
      (void)!::send(connection.get(), response.data(), response.size(), MSG_NOSIGNAL);
      while (!done_) std::this_thread::sleep_for(10ms);
    });
  }
  ~HoldingServer() {
    done_ = true;
    ::shutdown(listener_.get(), SHUT_RDWR);  // ends an accept still waiting
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/b.cairnb"; }

 private:
  UniqueFd listener_;
  int port_ = 0;
  std::atomic<bool> done_ = false;
  std::thread thread_;
};

std::string read_exactly(int fd, std::size_t size) {
  std::string out(size, '\0');
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, out.data() + done, size - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

std::chrono::duration<double> time_of(auto&& step) {
  auto started = std::chrono::steady_clock::now();
  step();
  return std::chrono::steady_clock::now() - started;
}

}  // namespace

TEST_CASE("a server declaring more than the bundle is refused at once, not waited for",
          "[source]") {
  const std::string body(1000, 'x');
  HoldingServer server("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + body);
  // With the stall timeout this long, waiting for the server would show.
  auto source = BundleSource::open(server.url(), {.stall_timeout_seconds = 30});
  REQUIRE(source.has_value());
  REQUIRE(read_exactly(source->fd(), body.size()) == body);
  auto end = source->check_end(1000, 10240);
  REQUIRE_FALSE(end.has_value());
  CHECK(end.error().code() == Errc::invalid_input);
  CHECK(end.error().message() == server.url() +
                                     ": data after the bundle's end: the server declared "
                                     "Content-Length 100000 but the bundle ends at byte 1000");
  // The install fails with that error, not a download error, and the transfer ends promptly.
  Error explained(Errc::internal, "");
  CHECK(time_of([&] { explained = source->explain(end.error()); }) < 2s);
  CHECK(explained.message() == end.error().message());
}

TEST_CASE("a declared length within the padding, or none, passes the end check", "[source]") {
  for (std::string head : {"HTTP/1.1 200 OK\r\nContent-Length: 10240\r\n\r\n",
                           "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n"}) {
    INFO(head);
    HoldingServer server(head + std::string(1000, 'x'));
    auto source = BundleSource::open(server.url(), {.stall_timeout_seconds = 30});
    REQUIRE(source.has_value());
    REQUIRE(read_exactly(source->fd(), 1000).size() == 1000);
    CHECK(source->check_end(1000, 10240).has_value());
    // The rest never comes: ending the transfer does not wait for it either.
    CHECK(time_of([&] { CHECK(source->finish().has_value()); }) < 2s);
  }
}

TEST_CASE("the stream ends with the declared length, while the server keeps the connection",
          "[source]") {
  // Zero padding the server declared: read to the stream's end, which comes with the last
  // declared byte, not with the connection's end (HTTP/1.1 keeps it open).
  HoldingServer server("HTTP/1.1 200 OK\r\nContent-Length: 1500\r\n\r\n" + std::string(1000, 'x') +
                       std::string(500, '\0'));
  auto source = BundleSource::open(server.url(), {.stall_timeout_seconds = 30});
  REQUIRE(source.has_value());
  CHECK(read_exactly(source->fd(), 1000).size() == 1000);
  CHECK(source->check_end(1000, 10240).has_value());
  std::string rest;
  CHECK(time_of([&] { rest = read_exactly(source->fd(), 10240); }) < 2s);
  CHECK(rest == std::string(500, '\0'));
  CHECK(source->finish().has_value());
}

TEST_CASE("a channel's size and digest are checked on what the reader got", "[source]") {
  std::string body(3000, 'b');
  std::string digest = to_hex(sha256(body));
  std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + body;
  SECTION("as promised") {
    HoldingServer server(response);
    auto source = BundleSource::open(
        server.url(),
        {.stall_timeout_seconds = 30, .expected_size = 3000, .expected_sha256 = digest});
    REQUIRE(source.has_value());
    CHECK(read_exactly(source->fd(), 3000) == body);
    CHECK(source->finish().has_value());
  }
  SECTION("another digest") {
    HoldingServer server(response);
    std::string other = to_hex(sha256(std::string("other")));
    auto source = BundleSource::open(
        server.url(),
        {.stall_timeout_seconds = 30, .expected_size = 3000, .expected_sha256 = other});
    REQUIRE(source.has_value());
    CHECK(read_exactly(source->fd(), 3000) == body);
    auto finished = source->finish();
    REQUIRE_FALSE(finished);
    CHECK(finished.error().code() == Errc::integrity);
    CHECK_THAT(finished.error().message(),
               Catch::Contains("sha256 " + digest + " differs from the channel index's " + other));
  }
  SECTION("bigger than promised: cut off at the header, the reader sees the end at once") {
    HoldingServer server(response);
    auto source = BundleSource::open(
        server.url(),
        {.stall_timeout_seconds = 30, .expected_size = 2000, .expected_sha256 = digest});
    REQUIRE(source.has_value());
    std::string got;
    CHECK(time_of([&] { got = read_exactly(source->fd(), 3000); }) < 2s);
    CHECK(got.empty());
    auto why = source->explain(Error(Errc::invalid_input, "truncated"));
    CHECK(why.code() == Errc::integrity);
    CHECK_THAT(why.message(), Catch::Contains("bigger than the channel index says (2000 bytes)"));
  }
  SECTION("bigger than promised, without a Content-Length: cut off at the limit") {
    HoldingServer server("HTTP/1.0 200 OK\r\n\r\n" + body);
    auto source = BundleSource::open(
        server.url(),
        {.stall_timeout_seconds = 30, .expected_size = 2000, .expected_sha256 = digest});
    REQUIRE(source.has_value());
    CHECK(read_exactly(source->fd(), 3000).size() <= 2000);
    CHECK_THAT(source->explain(Error(Errc::invalid_input, "truncated")).message(),
               Catch::Contains("bigger than the channel index says"));
  }
  SECTION("smaller than promised") {
    HoldingServer server(response);
    auto source = BundleSource::open(
        server.url(),
        {.stall_timeout_seconds = 30, .expected_size = 4000, .expected_sha256 = digest});
    REQUIRE(source.has_value());
    CHECK(read_exactly(source->fd(), 3000) == body);
    CHECK_THAT(source->finish().error().message(),
               Catch::Contains("3000 bytes, the channel index says 4000"));
  }
  SECTION("only for URLs") {
    auto source = BundleSource::open("/dev/null", {.expected_size = 1});
    REQUIRE_FALSE(source);
    CHECK_THAT(source.error().message(), Catch::Contains("needs a URL"));
  }
}

TEST_CASE("a channel's bundle is not followed to another scheme", "[source]") {
  HoldingServer server(
      "HTTP/1.1 302 Found\r\nLocation: https://127.0.0.1:1/b.cairnb\r\nContent-Length: 0\r\n\r\n");
  auto source = BundleSource::open(
      server.url(),
      {.connect_timeout_seconds = 2, .stall_timeout_seconds = 30, .same_scheme_redirects = true});
  REQUIRE(source.has_value());
  CHECK(read_exactly(source->fd(), 10).empty());
  auto why = source->explain(Error(Errc::invalid_input, "truncated"));
  CHECK_THAT(why.message(), Catch::Contains("downloading " + server.url()));
  CHECK_THAT(why.message(), Catch::Contains("not supported"));
}
