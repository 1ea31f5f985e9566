#include "http_client.hpp"

#include <cstdlib>
#include <new>

namespace cairn::bench {

HttpClient::HttpClient(std::string base_url, const std::string& cacert)
    : handle_(curl_easy_init(), &curl_easy_cleanup),
      headers_(nullptr, &curl_slist_free_all),
      base_(std::move(base_url)) {
  if (!handle_) throw std::bad_alloc();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  headers_.reset(headers);
  CURL* curl = handle_.get();
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers_.get());
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &HttpClient::collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body_);
  if (!cacert.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, cacert.c_str());
}

HttpClient::Reply HttpClient::post(const std::string& path, const std::string& body) {
  CURL* curl = handle_.get();
  std::string url = base_ + path;
  body_.clear();
  error_[0] = '\0';
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  CURLcode code = curl_easy_perform(curl);
  long connects = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
  connections_ += connects;
  Reply reply;
  if (code != CURLE_OK) {
    reply.error = error_[0] ? error_ : curl_easy_strerror(code);
    return reply;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  reply.body = std::move(body_);
  return reply;
}

std::size_t HttpClient::collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace cairn::bench
