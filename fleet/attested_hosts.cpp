#include "fleet/attested_hosts.hpp"

#include <curl/curl.h>

#include <memory>

#include "common/strict_json.hpp"
#include "fleet/etcd_json.hpp"

namespace cairn::fleet {

namespace {

constexpr std::size_t kMaxAnswerBytes = 16 << 20;  // 100,000 hosts' entries fit

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  auto* answer = static_cast<std::string*>(out);
  if (answer->size() + size * count > kMaxAnswerBytes) return 0;
  answer->append(data, size * count);
  return size * count;
}

// Path segments as the verifier reads them: no '/', nothing to escape.
bool plain_segment(std::string_view text) {
  return !text.empty() && text.find_first_not_of(
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
                              "wxyz0123456789._+-~") == std::string_view::npos;
}

}  // namespace

Expected<AttestedHosts> parse_attested_hosts(std::string_view json) {
  auto parsed = CAIRN_TRY(parse_strict_json(json, "the verifier's answer"));
  auto top = CAIRN_TRY(StrictJsonObject::of(parsed, "the verifier's answer"));
  AttestedHosts out;
  CAIRN_TRY(top.string("name"));
  CAIRN_TRY(top.string("version"));
  out.state = CAIRN_TRY(top.string("state"));
  if (out.state != "approved" && out.state != "revoked") {
    return top.invalid("state", "must be \"approved\" or \"revoked\"");
  }
  const auto* hosts = CAIRN_TRY(top.array("hosts"));
  for (std::size_t i = 0; i < hosts->size(); ++i) {
    auto entry = CAIRN_TRY(StrictJsonObject::of(
        (*hosts)[i], "the verifier's answer: hosts[" + std::to_string(i) + "]"));
    auto host = CAIRN_TRY(entry.string("host"));
    CAIRN_TRY(entry.number("first_admitted_at"));
    CAIRN_TRY(entry.number("last_admitted_at"));
    if (CAIRN_TRY(entry.boolean("current"))) out.current.insert(std::move(host));
    CAIRN_CHECK(entry.finish());
  }
  CAIRN_CHECK(top.finish());
  return out;
}

Expected<AttestedHosts> fetch_attested_hosts(const VerifierEndpoint& verifier,
                                             std::string_view image, std::string_view version) {
  if (!plain_segment(image) || !plain_segment(version)) {
    return fail(Errc::invalid_input, "image \"" + printable(image) + "\" and version \"" +
                                         printable(version) +
                                         "\" must be plain names ([A-Za-z0-9._+~-])");
  }
  std::string base = verifier.url;
  while (base.ends_with('/')) base.pop_back();
  std::string url =
      base + "/v1/versions/" + std::string(image) + "/" + std::string(version) + "/hosts";
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return fail(Errc::internal, "libcurl could not start a request");
  std::string body;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  if (!verifier.ca_file.empty())
    curl_easy_setopt(curl.get(), CURLOPT_CAINFO, verifier.ca_file.c_str());
  if (auto rc = curl_easy_perform(curl.get()); rc != CURLE_OK) {
    return fail(Errc::unavailable, "the verifier at " + base + " cannot be asked: " +
                                       (error[0] ? error : curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status == 404) {
    return fail(Errc::not_found, "the verifier at " + base + " never loaded " + std::string(image) +
                                     " " + std::string(version));
  }
  if (status != 200) {
    return fail(Errc::unavailable, "the verifier at " + base + " answered HTTP " +
                                       std::to_string(status) + ": " +
                                       printable(body.substr(0, 300)));
  }
  return with_context(parse_attested_hosts(body), "asking the verifier at " + base);
}

std::vector<std::string> attested_followers(const std::vector<HostRecord>& hosts,
                                            std::string_view channel,
                                            const AttestedHosts& attested) {
  std::vector<std::string> out;
  for (const auto& host : hosts) {
    if (host.channel == channel && !host.hostname.empty() &&
        attested.current.contains(host.hostname)) {
      out.push_back(host.hostname);
    }
  }
  return out;
}

}  // namespace cairn::fleet
