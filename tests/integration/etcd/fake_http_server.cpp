#include "etcd/fake_http_server.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace cairn::testing {
namespace {

// Waits until `fd` is readable or the stop pipe is; false when stopping.
bool wait_readable(int fd, int stop) {
  pollfd fds[2] = {{fd, POLLIN, 0}, {stop, POLLIN, 0}};
  while (::poll(fds, 2, -1) < 0) {
    if (errno != EINTR) return false;
  }
  return (fds[1].revents & POLLIN) == 0;
}

bool send_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t sent = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    done += static_cast<std::size_t>(sent);
  }
  return true;
}

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace

FakeHttpServer::Handler forward_to(std::string endpoint) {
  return [endpoint](const std::string& path,
                    const std::string& body) -> std::optional<std::string> {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    std::string url = endpoint + path, answer;
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &collect);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &answer);
    long status = 502;
    if (curl_easy_perform(curl.get()) == CURLE_OK) {
      curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    }
    return FakeHttpServer::answer(static_cast<int>(status), answer);
  };
}

FakeHttpServer::FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
  listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int pipe_fds[2];
  if (!listener_ || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(listener_.get(), 8) != 0 ||
      ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
      ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("FakeHttpServer: cannot listen on 127.0.0.1");
  }
  stop_read_ = UniqueFd(pipe_fds[0]);
  stop_write_ = UniqueFd(pipe_fds[1]);
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { run(); });
}

FakeHttpServer::~FakeHttpServer() {
  (void)!::write(stop_write_.get(), "x", 1);
  thread_.join();
}

std::string FakeHttpServer::answer(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

void FakeHttpServer::run() {
  while (wait_readable(listener_.get(), stop_read_.get())) {
    UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection) continue;
    ++connections_;
    serve(connection.get());
  }
}

// Reads requests off one connection (headers, then a Content-Length body) and answers each.
void FakeHttpServer::serve(int connection) {
  std::string buffer;
  char chunk[65536];
  while (true) {
    std::size_t header_end;
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!wait_readable(connection, stop_read_.get())) return;
      ssize_t got = ::recv(connection, chunk, sizeof chunk, 0);
      if (got <= 0) return;  // the client closed the connection
      buffer.append(chunk, static_cast<std::size_t>(got));
    }
    std::string head = buffer.substr(0, header_end);
    std::size_t length = 0;
    if (auto at = head.find("Content-Length: "); at != std::string::npos) {
      length = std::strtoul(head.c_str() + at + 16, nullptr, 10);
    }
    while (buffer.size() < header_end + 4 + length) {
      if (!wait_readable(connection, stop_read_.get())) return;
      ssize_t got = ::recv(connection, chunk, sizeof chunk, 0);
      if (got <= 0) return;
      buffer.append(chunk, static_cast<std::size_t>(got));
    }
    std::string path = head.substr(head.find(' ') + 1);
    path = path.substr(0, path.find(' '));
    std::string body = buffer.substr(header_end + 4, length);
    buffer.erase(0, header_end + 4 + length);
    ++requests_;
    auto reply = handler_(path, body);
    if (!reply) {
      // Silence: hold the connection until the client hangs up or the server stops.
      while (wait_readable(connection, stop_read_.get()) && ::recv(connection, chunk, 1, 0) > 0) {
      }
      return;
    }
    if (!send_all(connection, *reply) || reply->find("Connection: close") != std::string::npos) {
      return;
    }
  }
}

}  // namespace cairn::testing
