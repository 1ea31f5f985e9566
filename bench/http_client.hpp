// One load-generator client's HTTP(S) connection on libcurl: one easy handle reused for every
// request, so libcurl keeps the connection (and its TLS session) alive between them, as a
// cairn-attest fleet's verifier would see steady clients. Not thread-safe: one per thread.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

namespace cairn::bench {

class HttpClient {
 public:
  struct Reply {
    long status = 0;  // 0 when no HTTP answer came
    std::string body;
    std::string error;  // libcurl's, when no HTTP answer came
  };

  // `base_url`: scheme://host:port; `cacert`: the only CA trusted for HTTPS (empty: the system's).
  // curl_global_init must have run.
  HttpClient(std::string base_url, const std::string& cacert);

  // POSTs `body` as application/json to base_url + path (10 s at most).
  Reply post(const std::string& path, const std::string& body);
  // Connections opened so far: 1 while the server keeps the connection alive.
  long connections() const { return connections_; }

 private:
  static std::size_t collect(char* data, std::size_t size, std::size_t count, void* out);

  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle_;
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers_;
  std::string base_;
  std::string body_;
  char error_[CURL_ERROR_SIZE] = {};
  long connections_ = 0;
};

}  // namespace cairn::bench
