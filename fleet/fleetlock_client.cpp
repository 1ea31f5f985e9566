// The FleetLock protocol's client side (reboot_lock.hpp), as Zincati speaks it to airlock: one
// POST per step, the answer's status the whole verdict. A refusal's body, {"kind", "value"}, is
// kept for the host's message; a body that is not that is quoted as it came (shortened).
#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/strict_json.hpp"
#include "fleet/etcd_json.hpp"
#include "fleet/reboot_lock.hpp"

namespace cairn::fleet {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxAnswerBytes = 64 << 10;

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  auto* answer = static_cast<std::string*>(out);
  if (answer->size() + size * count > kMaxAnswerBytes) return 0;
  answer->append(data, size * count);
  return size * count;
}

std::string refusal_text(const std::string& body) {
  if (auto parsed = parse_strict_json(body, "answer"); parsed && parsed->is_object()) {
    auto kind = parsed->find("kind");
    auto value = parsed->find("value");
    if (kind != parsed->end() && kind->is_string() && value != parsed->end() &&
        value->is_string()) {
      return printable(kind->get<std::string>()) + ": " + printable(value->get<std::string>());
    }
  }
  return body.empty() ? "(no reason given)" : printable(body);
}

class FleetLockClient final : public RebootLock {
 public:
  explicit FleetLockClient(FleetLockOptions options) : options_(std::move(options)) {
    while (options_.base_url.ends_with('/')) options_.base_url.pop_back();
  }

  Expected<LockAnswer> acquire(const LockRequest& request) override {
    auto [status, body] = CAIRN_TRY(post("/v1/pre-reboot", request));
    if (status == 200) {
      return LockAnswer{
          .granted = true,
          .message = "the FleetLock server at " + options_.base_url + " let it reboot"};
    }
    return LockAnswer{.message = "the FleetLock server at " + options_.base_url +
                                 " refused (HTTP " + std::to_string(status) +
                                 "): " + refusal_text(body)};
  }

  Status release(const LockRequest& request) override {
    auto [status, body] = CAIRN_TRY(post("/v1/steady-state", request));
    if (status == 200) return {};
    return fail(Errc::unavailable, "the FleetLock server at " + options_.base_url +
                                       " did not take the steady state (HTTP " +
                                       std::to_string(status) + "): " + refusal_text(body));
  }

 private:
  Expected<std::pair<long, std::string>> post(const char* path, const LockRequest& request) {
    static std::once_flag curl_ready;
    std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    std::unique_ptr<curl_slist, CurlDeleter> headers(
        curl_slist_append(nullptr, "Content-Type: application/json"));
    if (headers && !curl_slist_append(headers.get(), "fleet-lock-protocol: true")) headers.reset();
    if (!curl || !headers) return fail(Errc::internal, "libcurl could not allocate a handle");
    std::string url = options_.base_url + path;
    std::string body =
        json{{"client_params", {{"id", request.id}, {"group", request.group}}}}.dump();
    std::string answer;
    char error[CURL_ERROR_SIZE] = {};
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    if (!options_.ca_file.empty()) {
      curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
      curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
    }
    if (CURLcode code = curl_easy_perform(c); code != CURLE_OK) {
      return fail(Errc::unavailable,
                  "the FleetLock server at " + options_.base_url +
                      " is unreachable: " + (error[0] ? error : curl_easy_strerror(code)));
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return std::pair{status, std::move(answer)};
  }

  FleetLockOptions options_;
};

}  // namespace

Expected<std::unique_ptr<RebootLock>> fleetlock_reboot_lock(FleetLockOptions options) {
  if (!options.base_url.starts_with("http://") && !options.base_url.starts_with("https://")) {
    return fail(Errc::invalid_input,
                "FleetLock URL '" + options.base_url + "' must start with http:// or https://");
  }
  return std::unique_ptr<RebootLock>(std::make_unique<FleetLockClient>(std::move(options)));
}

}  // namespace cairn::fleet
