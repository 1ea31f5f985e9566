#include "attest/verifier/http_front.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "attest/host/verifier_client.hpp"
#include "common/fs.hpp"
#include "common/pki.hpp"
#include "unit/common/test_ca.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::verifier;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A front on 127.0.0.1 answering every request with its method, target and body size, on its own
// thread for the test's duration.
struct Front {
  std::unique_ptr<HttpFront> front;
  std::thread thread;
  int port = 0;

  explicit Front(FrontLimits limits, std::optional<TlsFiles> tls = {}) {
    auto opened =
        HttpFront::open({.host = "127.0.0.1", .port = 0, .loopback = true}, tls, limits,
                        [](const FrontRequest& request) {
                          return FrontResponse{.body = request.method + " " + request.target + " " +
                                                       std::to_string(request.body.size())};
                        });
    REQUIRE(opened.has_value());
    front = std::move(*opened);
    port = front->port();
    thread = std::thread([this] { front->run(); });
  }
  ~Front() {
    front->stop();
    thread.join();
  }
};

UniqueFd connect_to(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{.sin_family = AF_INET, .sin_port = htons(static_cast<std::uint16_t>(port))};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early: what it answered is what counts
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Everything the server sends until it closes or `limit` passes.
std::string read_until_closed(int fd, std::chrono::milliseconds limit = 5000ms) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd ready{.fd = fd, .events = POLLIN};
    if (::poll(&ready, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

std::string http_exchange(int port, std::string_view request) {
  auto fd = connect_to(port);
  send_all(fd.get(), request);
  return read_until_closed(fd.get());
}

}  // namespace

TEST_CASE("a listen address takes literals and ports, and errors name what is wrong", "[front]") {
  auto v4 = parse_listen_address("127.0.0.1:8741").value();
  CHECK(v4.host == "127.0.0.1");
  CHECK(v4.port == 8741);
  CHECK(v4.loopback);
  auto v6 = parse_listen_address("[::1]:0").value();
  CHECK(v6.host == "::1");
  CHECK(v6.loopback);
  CHECK(v6.text() == "[::1]:0");
  CHECK(parse_listen_address("localhost").value().port == kDefaultVerifierPort);
  CHECK_FALSE(parse_listen_address("0.0.0.0:80").value().loopback);
  CHECK_FALSE(parse_listen_address("[::]:80").value().loopback);
  for (auto [text, reason] :
       {std::pair{"127.0.0.1:abc", "port 'abc'"}, std::pair{"127.0.0.1:99999", "port '99999'"},
        std::pair{"127.0.0.1:-1", "port '-1'"}, std::pair{"127.0.0.1:", "empty port"},
        std::pair{"::1:80", "in brackets"}, std::pair{"[::1", "no ']'"},
        std::pair{"[::1]80", "expected ':PORT'"}, std::pair{"verifier.example:80", "not an IPv4"},
        std::pair{"", "not an IPv4"}, std::pair{"1.2.3.4:8740x", "port '8740x'"}}) {
    INFO(text);
    auto parsed = parse_listen_address(text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code() == Errc::invalid_input);
    CHECK_THAT(parsed.error().message(), Catch::Contains(reason));
  }
}

TEST_CASE("clients that send their headers a byte at a time hold no thread", "[front]") {
  Front front({.header_deadline = 600ms, .io_threads = 1, .workers = 1});
  std::vector<UniqueFd> slow;
  for (int i = 0; i < 20; ++i) slow.push_back(connect_to(front.port));
  std::string line = "POST /v1/attest HTTP/1.1\r\nHost: x\r\n";
  for (std::size_t i = 0; i < 3; ++i) {
    for (auto& fd : slow) send_all(fd.get(), line.substr(i, 1));
  }
  auto started = std::chrono::steady_clock::now();
  auto answer =
      http_exchange(front.port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(std::chrono::steady_clock::now() - started < 500ms);
  CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 200") && Catch::Contains("GET /healthz 0"));
  // Their header deadline passes: the server hangs up on every one of them.
  for (auto& fd : slow) CHECK(read_until_closed(fd.get(), 3000ms).empty());
}

TEST_CASE("the body cap holds however the body is framed", "[front]") {
  Front front({.max_body_bytes = 1024});
  SECTION("Content-Length beyond the cap: refused before the body is read") {
    auto answer = http_exchange(
        front.port, "POST /v1/attest HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n");
    CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 413") &&
                           Catch::Contains(R"({"error":"request body larger than 1024 bytes"})"));
  }
  SECTION("chunked") {
    std::string chunks;
    for (int i = 0; i < 8; ++i) chunks += "200\r\n" + std::string(512, 'x') + "\r\n";
    auto answer = http_exchange(
        front.port, "POST /v1/attest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                        chunks + "0\r\n\r\n");
    CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 413"));
  }
  SECTION("within the cap, chunked, passes whole") {
    auto answer = http_exchange(
        front.port,
        "POST /v1/attest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: "
        "close\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
    CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 200") && Catch::Contains("POST /v1/attest 16"));
  }
}

TEST_CASE("headers are capped in size, and a malformed request gets one JSON 400", "[front]") {
  Front front({.max_header_bytes = 2048});
  std::string headers;
  for (int i = 0; i < 200; ++i)
    headers += "X-Filler-" + std::to_string(i) + ": " + std::string(64, 'h') + "\r\n";
  auto big = http_exchange(front.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
  CHECK_THAT(big, Catch::StartsWith("HTTP/1.1 431") && Catch::Contains("headers larger than 2048"));
  auto garbage = http_exchange(front.port, "HELLO THERE\r\n\r\n");
  CHECK_THAT(garbage, Catch::StartsWith("HTTP/1.1 400") && Catch::Contains(R"({"error":)"));
}

TEST_CASE("a port another front listens on is refused, not shared", "[front]") {
  Front front({});
  auto second = HttpFront::open({.host = "127.0.0.1", .port = front.port, .loopback = true}, {}, {},
                                [](const FrontRequest&) { return FrontResponse{}; });
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code() == Errc::busy);
  CHECK_THAT(second.error().message(), Catch::Contains("127.0.0.1:" + std::to_string(front.port)));
}

TEST_CASE("HTTPS: a client pinned to the verifier's CA gets through, another CA does not",
          "[front]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-front-tls-").value();
  auto now = std::chrono::system_clock::now();
  auto [ca_key, ca] = cairn::testing::make_test_ca("verifier CA");
  auto [other_key, other] = cairn::testing::make_test_ca("someone else");
  auto server_key = generate_rsa_key(2048).value();
  auto server = issue_certificate({.common_name = "verifier",
                                   .not_before = now - 1h,
                                   .not_after = now + 24h,
                                   .serial = 2,
                                   .subject_alt_names = {"IP:127.0.0.1"}},
                                  server_key.get(), ca_key.get(), ca.get())
                    .value();
  REQUIRE(write_certificate_pem(dir.path() / "server.crt", server.get()));
  REQUIRE(write_private_key_pem(dir.path() / "server.key", server_key.get()));
  REQUIRE(write_certificate_pem(dir.path() / "ca.crt", ca.get()));
  REQUIRE(write_certificate_pem(dir.path() / "other.crt", other.get()));

  Front front({},
              TlsFiles{.certificate = dir.path() / "server.crt", .key = dir.path() / "server.key"});
  std::string url = "https://127.0.0.1:" + std::to_string(front.port);
  auto pinned = host::make_http_verifier_client(url, {.ca_file = dir.path() / "ca.crt"}).value();
  // The echo front answers with text, not a NonceGrant: getting that far means TLS held.
  auto answer = pinned->nonce({.host = "h"});
  REQUIRE_FALSE(answer.has_value());
  CHECK_THAT(answer.error().message(), Catch::Contains("malformed"));
  auto stranger =
      host::make_http_verifier_client(url, {.ca_file = dir.path() / "other.crt"}).value();
  auto refused = stranger->nonce({.host = "h"});
  REQUIRE_FALSE(refused.has_value());
  CHECK_THAT(refused.error().message(), Catch::Contains("certificate"));
  // Plain HTTP to the TLS port: no answer worth reading, and the front keeps serving.
  CHECK_THAT(http_exchange(front.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
             !Catch::Contains("200"));
  CHECK(pinned->nonce({.host = "h"}).error().message().find("malformed") != std::string::npos);
}

TEST_CASE("a TLS key or certificate that does not load is named", "[front]") {
  auto opened =
      HttpFront::open({.host = "127.0.0.1", .port = 0, .loopback = true},
                      TlsFiles{.certificate = "/nonexistent.crt", .key = "/nonexistent.key"}, {},
                      [](const FrontRequest&) { return FrontResponse{}; });
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().code() == Errc::invalid_input);
  CHECK_THAT(opened.error().message(), Catch::Contains("/nonexistent.crt"));
}
