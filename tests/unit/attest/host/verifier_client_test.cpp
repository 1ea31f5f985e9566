// The libcurl client against a real HTTP server in this process (cpp-httplib), so the wire
// details (paths, JSON bodies, status codes, the verifier's "error" message) are exercised.
#include "attest/host/verifier_client.hpp"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <thread>

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::host;

namespace {

class Server {
 public:
  Server() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Server() {
    server_.stop();
    thread_.join();
  }
  httplib::Server& operator*() { return server_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

TEST_CASE("the client posts each message to its path and parses the answer",
          "[attest][host][verifier_client]") {
  Server server;
  std::string seen_body, seen_type;
  (*server).Post("/v1/nonce", [&](const httplib::Request& request, httplib::Response& response) {
    seen_body = request.body;
    seen_type = request.get_header_value("Content-Type");
    NonceGrant grant{.nonce = base64_encode("n"), .expires_at = 5, .pcrs = {0, 7}};
    response.set_content(to_json(grant), "application/json");
  });
  auto client = make_http_verifier_client(server.url() + "/");
  REQUIRE(client);
  auto grant = (*client)->nonce({.host = "kvm-07"});
  REQUIRE(grant);
  CHECK(grant->pcrs == std::vector<std::uint32_t>{0, 7});
  CHECK(seen_type == "application/json");
  auto parsed = parse_NonceRequest(seen_body);
  REQUIRE(parsed);
  CHECK(parsed->host == "kvm-07");
}

TEST_CASE("a refusal carries the verifier's error message", "[attest][host][verifier_client]") {
  Server server;
  (*server).Post("/v1/enroll", [](const httplib::Request&, httplib::Response& response) {
    response.status = 409;
    response.set_content(R"({"error": "host kvm-07 is enrolled with another EK"})",
                         "application/json");
  });
  (*server).Post("/v1/nonce", [](const httplib::Request&, httplib::Response& response) {
    response.status = 500;
    response.set_content("oops", "text/plain");
  });
  auto client = make_http_verifier_client(server.url());
  REQUIRE(client);
  auto challenge = (*client)->enroll({.host = "kvm-07"});
  REQUIRE_FALSE(challenge);
  CHECK(challenge.error().code() == Errc::permission);
  CHECK_THAT(challenge.error().message(), Catch::Contains("enrolled with another EK"));
  auto grant = (*client)->nonce({.host = "kvm-07"});
  REQUIRE_FALSE(grant);
  CHECK(grant.error().code() == Errc::unavailable);
  CHECK_THAT(grant.error().message(), Catch::Contains("HTTP 500"));
}

TEST_CASE("a denial verdict is an answer even with an error status",
          "[attest][host][verifier_client]") {
  Server server;
  (*server).Post("/v1/attest", [](const httplib::Request&, httplib::Response& response) {
    Verdict verdict{.host = "kvm-07",
                    .admitted = false,
                    .checks = {{.name = "pcr12", .passed = false, .detail = "non-zero"}}};
    response.status = 403;
    response.set_content(to_json(verdict), "application/json");
  });
  auto client = make_http_verifier_client(server.url());
  REQUIRE(client);
  auto verdict = (*client)->attest({.host = "kvm-07"});
  REQUIRE(verdict);
  CHECK_FALSE(verdict->admitted);
  CHECK(verdict->checks.at(0).name == "pcr12");
}

TEST_CASE("an unreachable verifier or a bad URL is named", "[attest][host][verifier_client]") {
  CHECK(make_http_verifier_client("verifier:8443").error().code() == Errc::invalid_input);
  int closed_port = 0;
  {
    httplib::Server probe;  // a port that was free a moment ago, now closed
    closed_port = probe.bind_to_any_port("127.0.0.1");
  }
  auto client = make_http_verifier_client(
      "http://127.0.0.1:" + std::to_string(closed_port),
      {.connect_timeout = std::chrono::seconds(2), .timeout = std::chrono::seconds(2)});
  REQUIRE(client);
  auto grant = (*client)->nonce({.host = "kvm-07"});
  REQUIRE_FALSE(grant);
  CHECK(grant.error().code() == Errc::unavailable);
  CHECK_THAT(grant.error().message(), Catch::Contains("unreachable"));
}
