// An HTTP/1.1 server on 127.0.0.1 that answers what a test tells it to, byte for byte: the
// answers no real etcd gives (garbage, truncation, silence) that a client must survive. One
// connection at a time, kept open between requests like a real server's.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "common/fs.hpp"

namespace cairn::testing {

class FakeHttpServer {
 public:
  // The raw answer (status line, headers, body) to a request for `path` with `body`;
  // std::nullopt: never answer (the connection stays silent until the client gives up). An
  // answer with "Connection: close" closes the connection after it.
  using Handler =
      std::function<std::optional<std::string>(const std::string& path, const std::string& body)>;

  explicit FakeHttpServer(Handler handler);
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;
  ~FakeHttpServer();

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  int requests() const { return requests_; }

  // "HTTP/1.1 <status> X\r\nContent-Length: N\r\n\r\n<body>"
  static std::string answer(int status, const std::string& body);

 private:
  void run();
  void serve(int connection);

  Handler handler_;
  UniqueFd listener_;
  UniqueFd stop_read_, stop_write_;  // a pipe: written to stop the thread's poll()
  int port_ = 0;
  std::atomic<int> connections_ = 0;
  std::atomic<int> requests_ = 0;
  std::thread thread_;
};

// A handler that passes each request on to `endpoint` (POST, as etcd's gateway takes them) and
// answers what came back: FakeHttpServer as a proxy that sees every request.
FakeHttpServer::Handler forward_to(std::string endpoint);

}  // namespace cairn::testing
