#include "attest/host/verifier_client.hpp"

#include <curl/curl.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

namespace cairn::attest::host {

Error http_error(std::string_view url, long status, std::string_view body) {
  std::string message;
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    message = json["error"].get<std::string>();
  } else {
    message = "HTTP " + std::to_string(status);
  }
  std::string what = "the verifier (" + std::string(url) + ") ";
  if (status >= 400 && status < 500) {
    return Error(Errc::permission, what + "refused the request: " + message);
  }
  return Error(Errc::unavailable, what + "failed: " + message);
}

namespace {

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

struct Response {
  long status = 0;
  std::string body;
};

class HttpVerifierClient final : public VerifierClient {
 public:
  HttpVerifierClient(std::string base_url, HttpOptions options)
      : base_url_(std::move(base_url)), options_(options) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  }

  Expected<EnrollChallenge> enroll(const EnrollRequest& request) override {
    auto response = CAIRN_TRY(post("/v1/enroll", to_json(request)));
    return parse_answer(parse_EnrollChallenge(response.body), "/v1/enroll");
  }
  Expected<EnrollResult> activate(const EnrollActivation& activation) override {
    auto response = CAIRN_TRY(post("/v1/enroll/activate", to_json(activation)));
    return parse_answer(parse_EnrollResult(response.body), "/v1/enroll/activate");
  }
  Expected<NonceGrant> nonce(const NonceRequest& request) override {
    auto response = CAIRN_TRY(post("/v1/nonce", to_json(request)));
    return parse_answer(parse_NonceGrant(response.body), "/v1/nonce");
  }
  Expected<std::string> revocations() override {
    auto response = CAIRN_TRY(exchange("/v1/revocations", std::nullopt));
    if (response.status / 100 != 2) {
      return std::unexpected(http_error(url("/v1/revocations"), response.status, response.body));
    }
    return std::move(response.body);
  }

  Expected<Verdict> attest(const QuoteSubmission& submission) override {
    auto response = CAIRN_TRY(exchange("/v1/attest", to_json(submission)));
    // A denial may come with a 4xx status: the verdict in the body is the answer then.
    auto verdict = parse_Verdict(response.body);
    if (verdict) return verdict;
    if (response.status / 100 != 2)
      return std::unexpected(http_error(url("/v1/attest"), response.status, response.body));
    return parse_answer(std::move(verdict), "/v1/attest");
  }

 private:
  std::string url(std::string_view path) const { return base_url_ + std::string(path); }

  template <class T>
  Expected<T> parse_answer(Expected<T> parsed, std::string_view path) const {
    if (parsed) return parsed;
    return fail(Errc::unavailable, "the verifier's answer to " + url(path) +
                                       " is malformed: " + parsed.error().message());
  }

  Expected<Response> post(std::string_view path, const std::string& body) {
    auto response = CAIRN_TRY(exchange(path, body));
    if (response.status / 100 != 2) {
      return std::unexpected(http_error(url(path), response.status, response.body));
    }
    return response;
  }

  // POST `body`, or GET without one.
  Expected<Response> exchange(std::string_view path, const std::optional<std::string>& body) {
    static std::once_flag init;
    std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return fail(Errc::internal, "curl_easy_init failed");
    std::unique_ptr<curl_slist, SlistDeleter> headers(
        curl_slist_append(nullptr, "Content-Type: application/json"));
    const std::string target = url(path);
    Response response;
    char error_buffer[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl.get(), CURLOPT_URL, target.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
    if (body) {
      curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body->c_str());
      curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(body->size()));
    } else {
      curl_easy_setopt(curl.get(), CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, long{options_.connect_timeout.count()});
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, long{options_.timeout.count()});
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    if (!options_.ca_file.empty()) {
      curl_easy_setopt(curl.get(), CURLOPT_CAINFO, options_.ca_file.c_str());
      curl_easy_setopt(curl.get(), CURLOPT_CAPATH, nullptr);  // these CAs only
    }
    curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response.body);
    CURLcode code = curl_easy_perform(curl.get());
    if (code != CURLE_OK) {
      std::string reason = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
      return fail(Errc::unavailable, "the verifier (" + target + ") is unreachable: " + reason);
    }
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
    return response;
  }

  std::string base_url_;
  HttpOptions options_;
};

}  // namespace

Expected<std::unique_ptr<VerifierClient>> make_http_verifier_client(std::string base_url,
                                                                    HttpOptions options) {
  if (!base_url.starts_with("http://") && !base_url.starts_with("https://")) {
    return fail(Errc::invalid_input,
                "verifier URL '" + base_url + "' must start with http:// or https://");
  }
  return std::unique_ptr<VerifierClient>(
      std::make_unique<HttpVerifierClient>(std::move(base_url), options));
}

}  // namespace cairn::attest::host
