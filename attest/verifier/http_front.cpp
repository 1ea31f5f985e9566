#include "attest/verifier/http_front.hpp"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

namespace cairn::attest::verifier {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string ListenAddress::text() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Expected<ListenAddress> parse_listen_address(std::string_view text) {
  auto refuse = [&](const std::string& why) {
    return fail(Errc::invalid_input, "--listen '" + std::string(text) + "': " + why);
  };
  std::string_view host = text, port_text;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return refuse("no ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return refuse("expected ':PORT' after ']'");
    if (!rest.empty()) port_text = rest.substr(1);
    if (!rest.empty() && port_text.empty()) return refuse("empty port");
  } else if (auto colon = text.find(':'); colon != std::string_view::npos) {
    if (text.find(':', colon + 1) != std::string_view::npos) {
      return refuse("write an IPv6 address in brackets: [ADDRESS]:PORT");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (port_text.empty()) return refuse("empty port");
  }
  ListenAddress address;
  if (!port_text.empty()) {
    int port = -1;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 ||
        port > 65535) {
      return refuse("port '" + std::string(port_text) + "' is not a number from 0 to 65535");
    }
    address.port = port;
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  auto ip = net::ip::make_address(std::string(host), ec);
  if (ec) return refuse("'" + std::string(host) + "' is not an IPv4 or IPv6 address");
  address.host = ip.to_string();
  address.loopback = ip.is_loopback();
  return address;
}

std::string json_error(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump();
}

struct HttpFront::Impl {
  Impl(FrontLimits limits, FrontHandler handler, FrontObserver observer)
      : limits(limits),
        handler(std::move(handler)),
        observer(std::move(observer)),
        workers(limits.workers) {}

  void accept();

  // Declared in this order so that the event loop (which owns the sessions) goes first, while
  // what sessions use — the TLS context, the connection count — is still there.
  FrontLimits limits;
  FrontHandler handler;
  FrontObserver observer;
  std::atomic<std::size_t> connections{0};
  std::optional<ssl::context> tls;
  net::thread_pool workers;
  net::io_context io;
  tcp::acceptor acceptor{io};
};

namespace {

// The status and reason for a request the parser refused; 0 when the client just went away or
// was too slow (nothing is worth writing to it then).
std::pair<int, std::string> refusal_for(const beast::error_code& ec, const FrontLimits& limits) {
  if (ec == http::error::body_limit) {
    return {413, "request body larger than " + std::to_string(limits.max_body_bytes) + " bytes"};
  }
  if (ec == http::error::header_limit) {
    return {431,
            "request headers larger than " + std::to_string(limits.max_header_bytes) + " bytes"};
  }
  if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted ||
      ec.category() == net::error::get_ssl_category() || ec == net::ssl::error::stream_truncated) {
    return {0, {}};
  }
  return {400, "malformed HTTP request: " + ec.message()};
}

// One connection: requests read and answered in turn (keep-alive), every step under a deadline.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, HttpFront::Impl& front) : stream_(std::move(stream)), front_(front) {}
  ~Session() { --front_.connections; }

  void start() {
    if constexpr (std::is_same_v<Stream, tcp_stream_type>) {
      read_request();
    } else {
      started_ = Clock::now();
      lowest().expires_after(front_.limits.header_deadline);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->read_request(/*handshake_done=*/true);
                              });
    }
  }

 private:
  using tcp_stream_type = beast::tcp_stream;

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void read_request(bool handshake_done = false) {
    if (!handshake_done) started_ = Clock::now();
    target_ = "-";
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(front_.limits.max_header_bytes));
    parser_->body_limit(front_.limits.max_body_bytes);
    // The TLS handshake already started this deadline: it covers handshake and headers.
    if (!handshake_done) lowest().expires_after(front_.limits.header_deadline);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec) return refuse(ec);
    const auto& header = parser_->get();
    target_ = std::string(header.target());
    lowest().expires_after(front_.limits.body_deadline);
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      // curl waits a second for this before sending a body larger than 1 KiB.
      auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                      header.version());
      http::async_write(
          stream_, *go_on,
          [self = this->shared_from_this(), go_on](beast::error_code ec, std::size_t) {
            if (ec) return self->refuse(ec);
            self->read_body();
          });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_body(ec);
                     });
  }

  void on_body(beast::error_code ec) {
    if (ec) return refuse(ec);
    auto request = parser_->release();
    parser_.reset();
    bool keep_alive = request.keep_alive();
    FrontRequest input{.method = std::string(request.method_string()),
                       .target = std::string(request.target()),
                       .body = std::move(request.body())};
    // The handler may wait on the store: off the event loop, which keeps serving others.
    net::post(front_.workers,
              [self = this->shared_from_this(), input = std::move(input), keep_alive]() mutable {
                FrontResponse response;
                try {
                  response = self->front_.handler(input);
                } catch (const std::exception& error) {
                  response = {.status = 500,
                              .body = json_error(std::string("internal error: ") + error.what())};
                }
                net::post(self->lowest().get_executor(),
                          [self, response = std::move(response), keep_alive]() mutable {
                            self->answer(std::move(response), keep_alive);
                          });
              });
  }

  void refuse(beast::error_code ec) {
    auto [status, reason] = refusal_for(ec, front_.limits);
    if (status == 0) return close();
    answer({.status = status, .body = json_error(reason)}, /*keep_alive=*/false);
  }

  void answer(FrontResponse response, bool keep_alive) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), 11);
    message->set(http::field::content_type, response.content_type);
    message->set(http::field::server, "cairn-verifier");
    message->body() = std::move(response.body);
    message->keep_alive(keep_alive);
    message->prepare_payload();
    int status = response.status;
    lowest().expires_after(front_.limits.write_deadline);
    http::async_write(stream_, *message,
                      [self = this->shared_from_this(), message, keep_alive, status](
                          beast::error_code ec, std::size_t) {
                        if (self->front_.observer) {
                          std::chrono::duration<double> took = Clock::now() - self->started_;
                          self->front_.observer(self->target_, status, took.count());
                        }
                        if (ec || !keep_alive) return self->close();
                        self->read_request();
                      });
  }

  void close() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  Stream stream_;
  HttpFront::Impl& front_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string target_ = "-";
  Clock::time_point started_ = Clock::now();
};

}  // namespace

void HttpFront::Impl::accept() {
  acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;  // stopping
    if (!ec) {
      // Answers go out whole at once: without this, Nagle holds each one back ~40 ms on a
      // kept-alive connection (the client's delayed ACK).
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (++connections > limits.max_connections) {
        --connections;
        beast::error_code ignored;
        socket.close(ignored);
      } else if (tls) {
        using TlsStream = beast::ssl_stream<beast::tcp_stream>;
        std::make_shared<Session<TlsStream>>(TlsStream(std::move(socket), *tls), *this)->start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), *this)
            ->start();
      }
    }
    accept();  // a failed accept (out of descriptors, say) does not stop the front
  });
}

HttpFront::HttpFront(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpFront::~HttpFront() {
  stop();
  impl_->workers.join();
}

Expected<std::unique_ptr<HttpFront>> HttpFront::open(const ListenAddress& address,
                                                     const std::optional<TlsFiles>& tls,
                                                     FrontLimits limits, FrontHandler handler,
                                                     FrontObserver observer) {
  auto impl = std::make_unique<Impl>(limits, std::move(handler), std::move(observer));
  if (tls) {
    auto& context = impl->tls.emplace(ssl::context::tls_server);
    auto load = [&](const std::filesystem::path& file, const char* what, auto&& step) -> Status {
      try {
        step();
      } catch (const boost::system::system_error& error) {
        return fail(Errc::invalid_input,
                    std::string(what) + " " + file.string() + ": " + error.code().message());
      }
      return {};
    };
    context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    CAIRN_CHECK(load(tls->certificate, "TLS certificate",
                     [&] { context.use_certificate_chain_file(tls->certificate.string()); }));
    CAIRN_CHECK(load(tls->key, "TLS key",
                     [&] { context.use_private_key_file(tls->key.string(), ssl::context::pem); }));
    if (tls->client_ca) {
      CAIRN_CHECK(load(*tls->client_ca, "client CA", [&] {
        context.load_verify_file(tls->client_ca->string());
        context.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      }));
    }
  }
  boost::system::error_code ec;
  tcp::endpoint endpoint(net::ip::make_address(address.host),
                         static_cast<std::uint16_t>(address.port));
  auto& acceptor = impl->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); !ec) {
    // SO_REUSEADDR lets a restart bind past TIME_WAIT; Linux still refuses a port another socket
    // listens on (no SO_REUSEPORT here), so a second verifier cannot share the port.
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (endpoint.protocol() == tcp::v6()) acceptor.set_option(net::ip::v6_only(true), ec);
    acceptor.bind(endpoint, ec);
  }
  if (!ec) acceptor.listen(limits.backlog, ec);
  if (ec) {
    Errc code = ec == net::error::address_in_use  ? Errc::busy
                : ec == net::error::access_denied ? Errc::permission
                                                  : Errc::unavailable;
    return fail(code, "cannot listen on " + address.text() + ": " + ec.message());
  }
  return std::unique_ptr<HttpFront>(new HttpFront(std::move(impl)));
}

int HttpFront::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpFront::run() {
  impl_->accept();
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < std::max(1u, impl_->limits.io_threads); ++i) {
    threads.emplace_back([this] { impl_->io.run(); });
  }
  impl_->io.run();
  for (auto& thread : threads) thread.join();
}

void HttpFront::stop() {
  net::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  impl_->io.stop();
}

}  // namespace cairn::attest::verifier
