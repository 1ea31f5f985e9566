#include "support/etcd_server.hpp"

#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "support/free_port.hpp"

namespace cairn::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kEtcd = "/usr/bin/etcd";
constexpr int kAttempts = 3;

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// True when etcd at `endpoint` says it is healthy (it has a leader and serves requests).
bool healthy(const std::string& endpoint) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return false;
  std::string url = endpoint + "/health", body;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  long status = 0;
  if (curl_easy_perform(curl.get()) != CURLE_OK) return false;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  return status == 200 && body.find("\"health\":\"true\"") != std::string::npos;
}

std::string log_tail(const fs::path& log) {
  auto text = read_file(log);
  if (!text) return "(no log)";
  std::size_t start = text->size() > 2000 ? text->size() - 2000 : 0;
  return text->substr(start);
}

std::string loopback_url(std::uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

}  // namespace

Expected<EtcdServer> EtcdServer::start(std::chrono::milliseconds ready_within) {
  std::error_code ec;
  if (!fs::exists(kEtcd, ec)) {
    return fail(Errc::not_found, std::string(kEtcd) + " is missing: apt-get install etcd-server");
  }
  auto dir = CAIRN_TRY(TempDir::create(fs::temp_directory_path(), "cairn-etcd-"));
  fs::path log = dir.path() / "etcd.log";
  auto deadline = Clock::now() + ready_within;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    std::uint16_t client = CAIRN_TRY(free_loopback_port());
    std::uint16_t peer = CAIRN_TRY(free_loopback_port());
    if (client == peer) continue;
    fs::remove_all(dir.path() / "data", ec);
    std::string endpoint = loopback_url(client);
    auto process = CAIRN_TRY(BackgroundProcess::start(
        {kEtcd, "--name", "cairn-test", "--data-dir", (dir.path() / "data").string(),
         "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
         "--listen-peer-urls", loopback_url(peer), "--initial-advertise-peer-urls",
         loopback_url(peer), "--initial-cluster", "cairn-test=" + loopback_url(peer),
         "--initial-cluster-state", "new"},
        log));
    while (process.running() && Clock::now() < deadline) {
      if (healthy(endpoint)) return EtcdServer(std::move(dir), std::move(process), endpoint);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (process.running()) break;  // up but never healthy: other ports will not help
    // It exited: most likely a port taken in between; the log says if not.
  }
  return fail(Errc::process, "etcd did not become healthy within " +
                                 std::to_string(ready_within.count()) + " ms; its log ends:\n" +
                                 log_tail(log));
}

}  // namespace cairn::testing
