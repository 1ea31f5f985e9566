// EtcdClient against endpoints that are not a working etcd: nothing listening, a server that
// never answers, and answers no etcd gives. Each must be an error naming the endpoint, quickly,
// never an exception or a crash.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "etcd/fake_http_server.hpp"
#include "fleet/etcd_client.hpp"
#include "support/free_port.hpp"
#include "support/require.hpp"

using namespace cairn;
using namespace cairn::fleet;
using cairn::testing::FakeHttpServer;
using cairn::testing::require;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::string ok(const std::string& body) { return FakeHttpServer::answer(200, body); }

// The error of each client operation against a server giving `reply` to every request.
template <class Operation>
Error error_of(const std::string& reply, Operation operation) {
  FakeHttpServer server([&](const std::string&, const std::string&) { return reply; });
  auto etcd = require(EtcdClient::open(server.endpoint(), {.request_timeout = 2s}));
  auto result = operation(etcd);
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().describe(), Catch::Contains("etcd at " + server.endpoint()));
  return result.error();
}

auto get_k = [](EtcdClient& etcd) { return etcd.get("k"); };

}  // namespace

TEST_CASE("etcd: nothing listening is a clear error within the connect timeout", "[etcd]") {
  std::string endpoint =
      "http://127.0.0.1:" + std::to_string(require(cairn::testing::free_loopback_port()));
  auto etcd = require(EtcdClient::open(endpoint, {.connect_timeout = 500ms}));
  auto start = Clock::now();
  auto read = etcd.get("/cairn/lab/hosts/h1");
  CHECK(Clock::now() - start < 1s);
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().code() == Errc::unavailable);
  CHECK_THAT(read.error().describe(), Catch::StartsWith("reading '/cairn/lab/hosts/h1': etcd at " +
                                                        endpoint + " unreachable: "));
  CHECK(etcd.requests_sent() == 1);
}

TEST_CASE("etcd: a server that never answers ends at the request timeout", "[etcd]") {
  FakeHttpServer server([](const std::string&, const std::string&) { return std::nullopt; });
  auto etcd = require(EtcdClient::open(server.endpoint(), {.request_timeout = 300ms}));
  auto start = Clock::now();
  auto renewed = etcd.keep_alive(42);
  CHECK(Clock::now() - start < 2s);
  REQUIRE_FALSE(renewed.has_value());
  CHECK(renewed.error().code() == Errc::unavailable);
  CHECK_THAT(renewed.error().describe(), Catch::Contains("renewing lease 42: etcd at"));
}

TEST_CASE("etcd: one connection serves a client's requests", "[etcd]") {
  FakeHttpServer server([](const std::string& path, const std::string&) -> std::string {
    if (path == "/v3/kv/range") return ok(R"({"kvs":[{"key":"aw==","value":"dg=="}]})");
    return ok(R"({"header":{}})");
  });
  auto etcd = require(EtcdClient::open(server.endpoint()));
  CHECK(require(etcd.get("k"))->value == "v");
  require(etcd.put("k", "v"));
  CHECK(require(etcd.get("k"))->key == "k");
  CHECK(etcd.requests_sent() == 3);
  CHECK(server.requests() == 3);
  CHECK(server.connections() == 1);
}

TEST_CASE("etcd: answers that are not etcd's are errors, not crashes", "[etcd]") {
  using Case = std::pair<const char*, std::string>;
  for (const auto& [name, reply] : {
           Case{"not JSON", ok("<html>hello</html>")},
           Case{"empty body", ok("")},
           Case{"a JSON array", ok("[1, 2]")},
           Case{"kvs not an array", ok(R"({"kvs": "x"})")},
           Case{"a kv not an object", ok(R"({"kvs": [7]})")},
           Case{"a key not base64", ok(R"({"kvs": [{"key": "!!!!"}]})")},
           Case{"a key of another type", ok(R"({"kvs": [{"key": 12}]})")},
           Case{"a revision beyond int64",
                ok(R"({"kvs": [{"key": "aw==", "mod_revision": "99999999999999999999"}]})")},
           Case{"a revision as an object", ok(R"({"kvs": [{"key": "aw==", "version": {}}]})")},
           Case{"a revision with trailing text",
                ok(R"({"kvs": [{"key": "aw==", "version": "12abc"}]})")},
           Case{"another key than asked", ok(R"({"kvs": [{"key": "eA=="}]})")},
           Case{"a duplicated field", ok(R"({"kvs": [], "kvs": [{"key": "aw=="}]})")},
           Case{"a number no double holds", ok(R"({"count": 1e400})")},
           Case{"nesting 100 000 deep", ok(std::string(100000, '['))},
           Case{"NUL bytes and invalid UTF-8", ok(std::string("\0\xff\xfe{", 4))},
           Case{"a truncated body",
                "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: "
                "close\r\n\r\n{\"kvs\": ["},
           Case{"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\nConnection: close"},
       }) {
    INFO(name);
    Error error = error_of(reply, get_k);
    CHECK(error.code() == Errc::unavailable);
  }
}

TEST_CASE("etcd: an HTTP error carries the server's message, made printable", "[etcd]") {
  Error garbage = error_of(FakeHttpServer::answer(500, std::string("oops\0\xff\n", 7)), get_k);
  CHECK(garbage.code() == Errc::unavailable);
  CHECK_THAT(garbage.describe(), Catch::EndsWith("refused it (HTTP 500): oops\\x00\\xff\\x0a"));

  Error not_found =
      error_of(FakeHttpServer::answer(
                   404, R"({"error":"x","message":"etcdserver: no such thing","code":5})"),
               get_k);
  CHECK(not_found.code() == Errc::not_found);
  CHECK_THAT(not_found.describe(), Catch::EndsWith("(HTTP 404): etcdserver: no such thing"));

  Error huge = error_of(FakeHttpServer::answer(503, std::string(100000, 'x')), get_k);
  CHECK(huge.describe().size() < 600);
}

TEST_CASE("etcd: keepalive answers without a result or with a stream error are errors", "[etcd]") {
  auto keep_alive = [](EtcdClient& etcd) { return etcd.keep_alive(7); };
  CHECK_THAT(error_of(ok(R"({"result": 5})"), keep_alive).describe(),
             Catch::Contains("no 'result' object"));
  CHECK_THAT(error_of(ok(R"({"header": {}})"), keep_alive).describe(),
             Catch::Contains("no 'result' object"));
  Error stream =
      error_of(ok(R"({"error": {"grpc_code": 14, "message": "stream broke"}})"), keep_alive);
  CHECK(stream.code() == Errc::unavailable);
  CHECK_THAT(stream.describe(), Catch::EndsWith("refused it: stream broke"));
  CHECK_THAT(error_of(ok(R"({"result": {"ID": "7", "TTL": "ten"}})"), keep_alive).describe(),
             Catch::Contains("'TTL' is not a 64-bit integer"));
  CHECK_THAT(error_of(ok(R"({"result": {"ID": "8", "TTL": "10"}})"), keep_alive).describe(),
             Catch::Contains("the answer is about another lease"));
  auto grant = [](EtcdClient& etcd) { return etcd.grant_lease(10s); };
  CHECK_THAT(error_of(ok(R"({"TTL": "10"})"), grant).describe(),
             Catch::Contains("a granted lease without an ID"));
  CHECK_THAT(error_of(ok(R"({"ID": "1", "error": "lessor is full"})"), grant).describe(),
             Catch::EndsWith("refused it: lessor is full"));
  auto put_if = [](EtcdClient& etcd) { return etcd.put_if("k", "v", 3); };
  CHECK_THAT(error_of(ok(R"({"succeeded": "yes"})"), put_if).describe(),
             Catch::Contains("'succeeded' is not true or false"));
}

TEST_CASE("etcd: an answer beyond 64 MiB is refused, not held", "[etcd]") {
  std::string body(65u << 20, ' ');
  Error error = error_of(ok(body), get_k);
  CHECK_THAT(error.describe(), Catch::Contains("answered more than 64 MiB"));
}

TEST_CASE("etcd: an endpoint must be an http(s) URL", "[etcd]") {
  for (const char* endpoint : {"127.0.0.1:2379", "ftp://127.0.0.1", "", "unix:///run/etcd"}) {
    INFO(endpoint);
    auto opened = EtcdClient::open(endpoint);
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == Errc::invalid_input);
  }
}
