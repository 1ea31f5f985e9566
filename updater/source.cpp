#include "updater/source.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "common/hash.hpp"

namespace cairn::updater {

bool is_url(std::string_view source) {
  return source.starts_with("http://") || source.starts_with("https://");
}

// One transfer on its own thread. The write callback blocks on the socket while the reader is
// busy (back-pressure); when the reader hangs up early the callback aborts the transfer. The
// transfer runs on a multi handle so that stop() can also wake a wait for the server: a server
// that holds the connection open after the bundle would otherwise keep the thread (and the
// install joining it) until the stall timeout — measured at 67 s with the default 60 s one.
class BundleSource::Download {
 public:
  Download(std::string url, const SourceOptions& options, UniqueFd writer)
      : url_(std::move(url)), options_(options), writer_(std::move(writer)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Download() { stop(); }

  // Ends the transfer if it still runs — whether it waits for the reader or for the server —
  // and waits for the thread.
  void stop() {
    if (!thread_.joinable()) return;
    stopped_ = true;
    if (reader_) ::shutdown(reader_, SHUT_RDWR);  // a blocked write fails
    if (multi_) curl_multi_wakeup(multi_.get());  // a wait for the server ends
    thread_.join();
  }
  void watch_reader(int fd) { reader_ = fd; }

  // The transfer's own failure; none when it succeeded or was stopped by us.
  std::optional<Error> error() const { return error_; }
  // What went through to the reader: its length and SHA-256 (only once the thread ended).
  std::uint64_t received() const { return received_; }
  std::string received_sha256() {
    if (!digest_hex_) digest_hex_ = to_hex(digest_.finish());
    return *digest_hex_;
  }
  // The response's Content-Length, once its body began; none when it has none.
  std::optional<std::uint64_t> declared_length() const {
    curl_off_t length = declared_length_;
    if (length < 0) return std::nullopt;
    return static_cast<std::uint64_t>(length);
  }

 private:
  static size_t write(char* data, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<Download*>(self_ptr);
    if (self->declared_length_ == kUnasked) {
      curl_off_t length = -1;
      curl_easy_getinfo(self->curl_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      self->declared_length_ = length;
    }
    size_t total = size * count;
    if (auto limit = self->options_.expected_size) {
      curl_off_t declared = self->declared_length_;
      if (self->received_ + total > *limit ||
          (declared >= 0 && static_cast<std::uint64_t>(declared) > *limit)) {
        self->error_ = Error(Errc::integrity,
                             self->url_ + ": the bundle is bigger than the channel index says (" +
                                 std::to_string(*limit) + " bytes)");
        return 0;
      }
    }
    self->digest_.update(std::string_view(data, total));
    self->received_ += total;
    size_t done = 0;
    while (done < total) {
      ssize_t sent = ::send(self->writer_.get(), data + done, total - done, MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR) continue;
      if (sent <= 0) {
        self->stopped_ = true;
        return 0;  // CURLE_WRITE_ERROR: the reader stopped, not the server
      }
      done += static_cast<size_t>(sent);
    }
    return total;
  }

  // Drives the transfer until it ends or stop() is called; the transfer's result.
  CURLcode perform(CURL* c) {
    CURLM* multi = multi_.get();
    if (curl_multi_add_handle(multi, c) != CURLM_OK) return CURLE_FAILED_INIT;
    CURLcode result = CURLE_OK;
    int running = 1;
    while (running && !stopped_) {
      if (curl_multi_perform(multi, &running) != CURLM_OK) {
        result = CURLE_FAILED_INIT;
        break;
      }
      if (running && curl_multi_poll(multi, nullptr, 0, 1000, nullptr) != CURLM_OK) {
        result = CURLE_FAILED_INIT;
        break;
      }
    }
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg == CURLMSG_DONE) result = message->data.result;
    }
    curl_multi_remove_handle(multi, c);
    return result;
  }

  void run() {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl || !multi_) {
      error_ = Error(Errc::internal, "curl_easy_init or curl_multi_init failed");
      writer_.reset();
      return;
    }
    char message[CURL_ERROR_SIZE] = {};
    CURL* c = curl_ = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    std::string scheme = url_.substr(0, url_.find(':'));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
                     options_.same_scheme_redirects ? scheme.c_str() : "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_seconds);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options_.stall_timeout_seconds);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, message);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "cairn-update");
    if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Download::write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
    CURLcode code = perform(c);
    writer_.reset();     // the reader sees the end of the stream
    if (error_) return;  // the write callback's verdict (too big)
    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && stopped_)) return;
    std::string detail = message[0] ? message : curl_easy_strerror(code);
    Errc kind = code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE
                    ? Errc::crypto
                : code == CURLE_HTTP_RETURNED_ERROR ? Errc::not_found
                                                    : Errc::unavailable;
    error_ = Error(kind, "downloading " + url_ + ": " + detail);
  }

  static constexpr curl_off_t kUnasked = -2;
  std::string url_;
  SourceOptions options_;
  UniqueFd writer_;
  std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi_{curl_multi_init(),
                                                               &curl_multi_cleanup};
  CURL* curl_ = nullptr;
  std::atomic<int> reader_ = 0;
  std::atomic<bool> stopped_ = false;
  std::atomic<curl_off_t> declared_length_ = kUnasked;
  std::optional<Error> error_;
  std::uint64_t received_ = 0;
  Sha256 digest_;
  std::optional<std::string> digest_hex_;
  std::thread thread_;
};

Expected<BundleSource> BundleSource::open(const std::string& source, const SourceOptions& options) {
  BundleSource out;
  out.name_ = source == "-" ? "stdin" : source;
  if (source == "-") return out;
  if (options.expected_size || !options.expected_sha256.empty()) {
    if (!is_url(source)) {
      return fail(Errc::invalid_input, source + ": an expected size or digest needs a URL");
    }
  }
  if (!is_url(source)) {
    out.file_ = CAIRN_TRY(open_file(source, O_RDONLY));
    return out;
  }
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return fail_errno("socketpair for " + source, errno);
  }
  out.file_ = UniqueFd(pair[0]);
  out.options_ = options;
  out.download_ = std::make_unique<Download>(source, options, UniqueFd(pair[1]));
  out.download_->watch_reader(pair[0]);
  return out;
}

BundleSource::BundleSource(BundleSource&&) noexcept = default;
BundleSource& BundleSource::operator=(BundleSource&&) noexcept = default;
BundleSource::~BundleSource() = default;

int BundleSource::fd() const { return file_ ? file_.get() : STDIN_FILENO; }

Error BundleSource::explain(Error error) {
  if (!download_) return error;
  download_->stop();
  if (auto download_error = download_->error()) return *download_error;
  return error;
}

Status BundleSource::finish() {
  if (!download_) return {};
  download_->stop();
  if (auto error = download_->error()) return std::unexpected(*error);
  const SourceOptions& expected = options_;
  if (expected.expected_size && download_->received() != *expected.expected_size) {
    return fail(Errc::integrity,
                name_ + ": the bundle is " + std::to_string(download_->received()) +
                    " bytes, the channel index says " + std::to_string(*expected.expected_size));
  }
  if (!expected.expected_sha256.empty() &&
      download_->received_sha256() != expected.expected_sha256) {
    return fail(Errc::integrity, name_ + ": the bundle's sha256 " + download_->received_sha256() +
                                     " differs from the channel index's " +
                                     expected.expected_sha256);
  }
  return {};
}

// A server that declares more than the bundle (and its padding) is serving something else than
// the signed bundle, or lies about its length: an error either way, as data appended to a bundle
// file is. Decided from the header at once: waiting to see whether the declared bytes come is
// what held installs until the stall timeout. A response without a Content-Length (chunked) is
// read to its end like a pipe: that end is the only word the server gives on its length.
Status BundleSource::check_end(std::uint64_t end, std::uint64_t padded_end) const {
  if (!download_) return {};
  auto declared = download_->declared_length();
  if (!declared || *declared <= padded_end) return {};
  return fail(Errc::invalid_input, name_ +
                                       ": data after the bundle's end: the server declared "
                                       "Content-Length " +
                                       std::to_string(*declared) + " but the bundle ends at byte " +
                                       std::to_string(end));
}

}  // namespace cairn::updater
