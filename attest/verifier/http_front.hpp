// The verifier's HTTP(S) front, on Boost.Beast (HTTP/1.1 parsing) and Asio (OpenSSL for TLS).
// Built for hostile clients: connections are asynchronous, so a slow client holds a socket and
// a little memory, never a thread; headers must arrive whole within a deadline, bodies within
// another; header bytes and body bytes are capped however the body is framed (chunked
// included); handlers run on a separate worker pool so the event loop keeps accepting. Every
// refusal is one 4xx with a JSON {"error": …} body.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace cairn::attest::verifier {

inline constexpr int kDefaultVerifierPort = 8740;

struct ListenAddress {
  std::string host;  // an IPv4 or IPv6 literal (no brackets)
  int port = kDefaultVerifierPort;
  bool loopback = false;

  // "127.0.0.1:8740", "[::1]:8740".
  std::string text() const;
};

// "HOST:PORT", "[V6]:PORT", "HOST" (port 8740) or "localhost[:PORT]"; HOST is an address
// literal. Errc::invalid_input naming what is wrong.
Expected<ListenAddress> parse_listen_address(std::string_view text);

struct TlsFiles {
  std::filesystem::path certificate;  // PEM chain, leaf first
  std::filesystem::path key;          // PEM private key
  // Set: clients must present a certificate chaining to these CAs (mutual TLS).
  std::optional<std::filesystem::path> client_ca;
};

struct FrontLimits {
  // From accept (or the end of the previous answer) to the last header byte, TLS handshake
  // included.
  std::chrono::milliseconds header_deadline{10'000};
  // For the whole body once the headers are in.
  std::chrono::milliseconds body_deadline{30'000};
  std::chrono::milliseconds write_deadline{10'000};
  std::size_t max_header_bytes = 16 << 10;
  std::size_t max_body_bytes = 4 << 20;
  int backlog = 4096;
  // Beyond this many open connections new ones are closed at once.
  std::size_t max_connections = 8192;
  unsigned io_threads = 2;
  unsigned workers = 4;
};

struct FrontRequest {
  std::string method;
  std::string target;
  std::string body;
};

struct FrontResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using FrontHandler = std::function<FrontResponse(const FrontRequest&)>;
// After each answer: the request target ("-" when none parsed), the status, the seconds from
// the first header byte awaited to the answer written.
using FrontObserver = std::function<void(std::string_view target, int status, double seconds)>;

// {"error": message}
std::string json_error(std::string_view message);

class HttpFront {
 public:
  // Binds exclusively (Errc::busy when the address is in use) and loads the TLS files
  // (Errc::invalid_input naming the file); serves nothing until run().
  static Expected<std::unique_ptr<HttpFront>> open(const ListenAddress& address,
                                                   const std::optional<TlsFiles>& tls,
                                                   FrontLimits limits, FrontHandler handler,
                                                   FrontObserver observer = {});
  ~HttpFront();

  int port() const;
  // Serves until stop(), on limits.io_threads threads (this one included).
  void run();
  // From any thread; run() returns once the threads are done.
  void stop();

  struct Impl;

 private:
  explicit HttpFront(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::attest::verifier
