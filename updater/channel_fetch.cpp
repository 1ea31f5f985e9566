#include "updater/channel_fetch.hpp"

#include <curl/curl.h>

#include <mutex>

namespace cairn::updater {
namespace {

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

struct Transfer {
  std::string body;
  std::string etag;
  std::uint64_t max_bytes = 0;
  bool too_big = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t total = size * count;
  if (transfer->body.size() + total > transfer->max_bytes) {
    transfer->too_big = true;
    return 0;
  }
  transfer->body.append(data, total);
  return total;
}

// Keeps the last ETag header (a redirect's own response comes first).
size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  constexpr std::string_view kName = "etag:";
  if (line.size() > kName.size()) {
    std::string lower(line.substr(0, kName.size()));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kName) {
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() &&
             (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
      }
      transfer->etag = value;
    }
  }
  return size * count;
}

class HttpDocumentFetcher final : public DocumentFetcher {
 public:
  explicit HttpDocumentFetcher(FetchOptions options) : options_(std::move(options)) {
    static std::once_flag curl_ready;
    std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Expected<FetchedDocument> get(const std::string& url, const std::string& etag,
                                std::uint64_t max_bytes) override {
    if (!curl_) curl_.reset(curl_easy_init());
    if (!curl_) return fail(Errc::internal, "curl_easy_init failed");
    CURL* c = curl_.get();
    curl_easy_reset(c);  // keeps the connection cache: the signature reuses the connection
    Transfer transfer{.max_bytes = max_bytes};
    char message[CURL_ERROR_SIZE] = {};
    std::string scheme = url.substr(0, url.find(':'));
    std::unique_ptr<curl_slist, CurlDeleter> headers;
    if (!etag.empty()) {
      headers.reset(curl_slist_append(nullptr, ("If-None-Match: " + etag).c_str()));
    }
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, scheme.c_str());
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, message);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "cairn-update");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
    if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
    ++requests_;
    CURLcode code = curl_easy_perform(c);
    if (transfer.too_big) {
      return fail(Errc::invalid_input,
                  url + ": larger than " + std::to_string(max_bytes) + " bytes, refused");
    }
    if (code != CURLE_OK) {
      std::string detail = message[0] ? message : curl_easy_strerror(code);
      if (code == CURLE_UNSUPPORTED_PROTOCOL) {
        return fail(Errc::invalid_input, url + ": redirected away from " + scheme + ": " + detail);
      }
      Errc kind = code == CURLE_PEER_FAILED_VERIFICATION ? Errc::crypto : Errc::unavailable;
      return fail(kind, url + ": " + detail);
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 304 && !etag.empty()) {
      return FetchedDocument{.not_modified = true, .etag = etag};
    }
    if (status != 200) {
      return fail(Errc::not_found, url + ": HTTP " + std::to_string(status));
    }
    return FetchedDocument{.body = std::move(transfer.body), .etag = std::move(transfer.etag)};
  }

  unsigned requests_sent() const override { return requests_; }

 private:
  FetchOptions options_;
  std::unique_ptr<CURL, CurlDeleter> curl_;
  unsigned requests_ = 0;
};

}  // namespace

std::unique_ptr<DocumentFetcher> http_document_fetcher(FetchOptions options) {
  return std::make_unique<HttpDocumentFetcher>(std::move(options));
}

}  // namespace cairn::updater
