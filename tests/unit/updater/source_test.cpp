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
