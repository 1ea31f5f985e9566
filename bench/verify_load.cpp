#include "verify_load.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attest/verifier/seams.hpp"
#include "http_client.hpp"

namespace cairn::bench {

using attest::NonceRequest;
using attest::QuoteSubmission;
using attest::verifier::Bytes;
using attest::verifier::ImageState;
using attest::verifier::make_image_version;

void die(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::exit(1);
}

void need(Status result, const std::string& what) {
  if (!result) die(what + ": " + result.error().describe());
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string encode(std::span<const std::uint8_t> bytes) {
  return base64_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

Bytes decode(const std::string& text) {
  auto decoded = need(base64_decode(text), "base64");
  return {decoded.begin(), decoded.end()};
}

namespace {
constexpr const char* kHoles[3] = {"@NONCE@", "@QUOTED@", "@SIGNATURE@"};

QuoteSubmission boot_and_submit(attest::testing::SoftTpm& tpm,
                                const attest::testing::SoftImage& image, const std::string& host) {
  tpm.boot(image);
  return tpm.submission(host, Bytes(32, 0));
}
}  // namespace

SubmissionTemplate::SubmissionTemplate(QuoteSubmission submission) {
  submission.nonce = kHoles[0];
  submission.quoted = kHoles[1];
  submission.signature = kHoles[2];
  std::string json = to_json(submission);
  std::vector<std::pair<std::size_t, int>> at;
  for (int hole = 0; hole < 3; ++hole) at.emplace_back(json.find(kHoles[hole]), hole);
  std::ranges::sort(at);
  std::size_t from = 0;
  for (auto [position, hole] : at) {
    if (position == std::string::npos) die("the submission JSON lost a field");
    pieces_.push_back(json.substr(from, position - from));
    order_.push_back(hole);
    from = position + std::strlen(kHoles[hole]);
  }
  pieces_.push_back(json.substr(from));
}

std::string SubmissionTemplate::fill(const std::string& nonce, const std::string& quoted,
                                     const std::string& signature) const {
  const std::string* values[] = {&nonce, &quoted, &signature};
  std::string out = pieces_[0];
  for (std::size_t i = 0; i < order_.size(); ++i) {
    out += *values[order_[i]];
    out += pieces_[i + 1];
  }
  return out;
}

LoadHost::LoadHost(std::string host_name, int identity, attest::testing::AkAlgorithm ak,
                   const attest::testing::SoftImage& image, int ek_identity)
    : name(std::move(host_name)),
      tpm(identity, ak, ek_identity),
      submission(boot_and_submit(tpm, image, name)),
      nonce_request(to_json(NonceRequest{.host = name})) {}

void ClientResult::problem(const std::string& what) {
  if (first_problem.empty()) first_problem = what;
}

void ClientResult::error(const std::string& what) {
  ++errors;
  problem(what);
}

void ClientResult::merge(const ClientResult& other) {
  verdict_ms.insert(verdict_ms.end(), other.verdict_ms.begin(), other.verdict_ms.end());
  cycle_ms.insert(cycle_ms.end(), other.cycle_ms.begin(), other.cycle_ms.end());
  admitted += other.admitted;
  denied += other.denied;
  errors += other.errors;
  connections += other.connections;
  if (first_problem.empty()) first_problem = other.first_problem;
}

namespace {
std::string describe(const std::string& what, const HttpClient::Reply& reply) {
  if (!reply.error.empty()) return what + ": " + reply.error;
  return what + ": HTTP " + std::to_string(reply.status) + " " + reply.body.substr(0, 300);
}
}  // namespace

// One client: nonce, quote, verdict, on one keep-alive connection, until the deadline.
void run_client(const std::string& url, const std::string& cacert, std::span<LoadHost* const> hosts,
                std::latch& start_gate, const Clock::time_point& deadline, ClientResult& result) {
  HttpClient http(url, cacert);
  start_gate.wait();
  for (std::size_t turn = 0; Clock::now() < deadline; ++turn) {
    LoadHost& host = *hosts[turn % hosts.size()];
    auto cycle_start = Clock::now();
    auto granted = http.post("/v1/nonce", host.nonce_request);
    if (granted.status != 200) {
      result.error(describe("nonce", granted));
      continue;
    }
    auto grant = attest::parse_NonceGrant(granted.body);
    if (!grant) {
      result.error("NonceGrant: " + grant.error().describe());
      continue;
    }
    auto quote = host.tpm.quote(decode(grant->nonce));
    auto body = host.submission.fill(grant->nonce, encode(quote.attest), encode(quote.signature));
    auto verdict_start = Clock::now();
    auto reply = http.post("/v1/attest", body);
    double verdict_ms = ms_since(verdict_start);
    if (reply.status != 200) {
      result.error(describe("attest", reply));
      continue;
    }
    auto verdict = nlohmann::json::parse(reply.body, nullptr, false);
    if (!verdict.is_object() || !verdict.contains("admitted")) {
      result.error("a verdict that is not one: " + reply.body.substr(0, 300));
      continue;
    }
    if (verdict["admitted"] == true) {
      ++result.admitted;
    } else {
      ++result.denied;
      result.problem("denied: " + reply.body.substr(0, 600));
    }
    result.verdict_ms.push_back(verdict_ms);
    result.cycle_ms.push_back(ms_since(cycle_start));
  }
  result.connections = http.connections();
}

void approve_images(attest::verifier::Store& store, const attest::testing::SoftImage& image) {
  auto now = attest::verifier::unix_seconds(std::chrono::system_clock::now());
  need(store.add_image(
           need(make_image_version(image.golden(), ImageState::approved, now), "image version")),
       "approving the image");
  for (const char* version : {"0.9.0", "0.9.1", "1.0.1"}) {
    need(store.add_image(need(
             make_image_version(image.next(version).golden(), ImageState::approved, now), "image")),
         "approving an image");
  }
}

double percentile(std::vector<double>& values, double fraction) {
  if (values.empty()) return 0;
  std::ranges::sort(values);
  auto index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// utime + stime of another process, from /proc/PID/stat (fields 14 and 15); -1 if unreadable.
double other_cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto paren = text.rfind(')');
  if (pid <= 0 || paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));  // from field 3 (state) on
  std::string field;
  double ticks = 0;
  for (int number = 3; number <= 15 && fields >> field; ++number) {
    if (number >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace cairn::bench
