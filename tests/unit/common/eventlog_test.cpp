#include "common/eventlog.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "common/fs.hpp"
#include "common/hash.hpp"

using namespace cairn;
using namespace cairn::tpm;

namespace {

// Writes crypto-agile logs: the SHA-1-format Spec ID header, then TCG_PCR_EVENT2 records.
class LogBuilder {
 public:
  explicit LogBuilder(std::vector<std::uint16_t> banks = {kAlgSha256}) : banks_(std::move(banks)) {
    std::vector<std::uint8_t> spec;
    append(spec, std::string_view("Spec ID Event03\0", 16));
    u32(spec, 0);                           // platform class
    spec.insert(spec.end(), {0, 2, 0, 2});  // minor, major, errata, uintn size
    u32(spec, static_cast<std::uint32_t>(banks_.size()));
    for (auto bank : banks_) {
      u16(spec, bank);
      u16(spec, static_cast<std::uint16_t>(digest_size(bank)));
    }
    spec.push_back(0);  // vendor info size
    u32(bytes_, 0);
    u32(bytes_, kEvNoAction);
    bytes_.insert(bytes_.end(), 20, 0);
    u32(bytes_, static_cast<std::uint32_t>(spec.size()));
    bytes_.insert(bytes_.end(), spec.begin(), spec.end());
  }

  // An event whose digests are H(data) in every bank.
  LogBuilder& event(std::uint32_t pcr, std::uint32_t type, std::string_view data) {
    u32(bytes_, pcr);
    u32(bytes_, type);
    u32(bytes_, static_cast<std::uint32_t>(banks_.size()));
    for (auto bank : banks_) {
      u16(bytes_, bank);
      auto digest = hash(bank, data);
      bytes_.insert(bytes_.end(), digest.begin(), digest.end());
    }
    u32(bytes_, static_cast<std::uint32_t>(data.size()));
    append(bytes_, data);
    return *this;
  }

  std::vector<std::uint8_t>& bytes() { return bytes_; }

  static std::vector<std::uint8_t> hash(std::uint16_t bank, std::string_view data) {
    // H(data) = extend(empty, data) minus the zero prefix is not H(data): hash directly.
    if (bank == kAlgSha256) {
      auto digest = sha256(data);
      return {digest.begin(), digest.end()};
    }
    std::vector<std::uint8_t> zero;
    return extend(zero, {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()}, bank);
  }

 private:
  static void u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
  static void u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
    out.push_back(static_cast<std::uint8_t>(value));
    out.push_back(static_cast<std::uint8_t>(value >> 8));
  }
  static void append(std::vector<std::uint8_t>& out, std::string_view data) {
    out.insert(out.end(), data.begin(), data.end());
  }

  std::vector<std::uint16_t> banks_;
  std::vector<std::uint8_t> bytes_;
};

std::vector<std::uint8_t> chain(std::initializer_list<std::string_view> events) {
  std::vector<std::uint8_t> pcr(32, 0);
  for (auto data : events) {
    auto digest = sha256(data);
    pcr = extend(pcr, digest, kAlgSha256);
  }
  return pcr;
}

std::string error_of(const std::vector<std::uint8_t>& bytes) {
  auto log = parse_event_log(bytes);
  if (log) return "parsed";
  CHECK(log.error().code() == Errc::integrity);
  return log.error().describe();
}

}  // namespace

TEST_CASE("an event log parses and replays to hand-computed PCRs", "[eventlog]") {
  LogBuilder builder({kAlgSha1, kAlgSha256});
  builder.event(0, kEvSCrtmVersion, "firmware 1.0")
      .event(4, kEvEfiBootServicesApplication, "systemd-boot")
      .event(7, kEvNoAction, "not extended")
      .event(4, kEvSeparator, std::string_view("\0\0\0\0", 4));
  auto log = parse_event_log(builder.bytes());
  REQUIRE(log.has_value());
  REQUIRE(log->algorithms.size() == 2);
  REQUIRE(log->events.size() == 4);
  CHECK(log->events[1].pcr == 4);
  CHECK(log->events[1].type == kEvEfiBootServicesApplication);
  CHECK(std::string(log->events[1].data.begin(), log->events[1].data.end()) == "systemd-boot");
  CHECK(log->events[1].digest(kAlgSha1)->bytes.size() == 20);
  CHECK(log->events[0].offset > 0);

  auto pcrs = replay(*log, kAlgSha256);
  CHECK(pcrs[0] == chain({"firmware 1.0"}));
  CHECK(pcrs[4] == chain({"systemd-boot", std::string_view("\0\0\0\0", 4)}));
  CHECK_FALSE(pcrs.contains(7));  // EV_NO_ACTION only
  CHECK(replay(*log, kAlgSha1)[4].size() == 20);
  CHECK(event_type_name(kEvEfiBootServicesApplication) == "EV_EFI_BOOT_SERVICES_APPLICATION");
  CHECK(event_type_name(0x12345678).empty());
}

TEST_CASE("a StartupLocality event sets PCR 0's starting value", "[eventlog]") {
  LogBuilder builder;
  builder.event(0, kEvNoAction, std::string_view("StartupLocality\0\3", 17))
      .event(0, kEvSCrtmVersion, "v");
  auto log = parse_event_log(builder.bytes());
  REQUIRE(log.has_value());
  std::vector<std::uint8_t> start(32, 0);
  start.back() = 3;
  auto digest = sha256("v");
  CHECK(replay(*log, kAlgSha256)[0] == extend(start, digest, kAlgSha256));
}

TEST_CASE("malformed event logs are refused with the offset", "[eventlog]") {
  LogBuilder good;
  good.event(4, kEvIpl, "payload");
  auto bytes = good.bytes();
  const std::size_t header_size = bytes.size() - (4 + 4 + 4 + 2 + 32 + 4 + 7);
  const std::size_t record = header_size;

  CHECK_THAT(error_of({}), Catch::Contains("offset 0"));
  CHECK_THAT(error_of({bytes.begin(), bytes.begin() + 30}), Catch::Contains("runs past the end"));
  for (std::size_t cut : {record + 6, record + 20, record + 50, bytes.size() - 1}) {
    INFO("truncated at " << cut);
    CHECK_THAT(error_of({bytes.begin(), bytes.begin() + static_cast<long>(cut)}),
               Catch::Contains("record at offset " + std::to_string(record)));
  }
  auto changed = [&](std::size_t at, std::uint8_t value) {
    auto copy = bytes;
    copy[at] = value;
    return error_of(copy);
  };
  CHECK_THAT(changed(4, 1), Catch::Contains("not the Spec ID event"));
  CHECK_THAT(changed(32, 'X'), Catch::Contains("signature"));
  CHECK_THAT(changed(record + 8, 0), Catch::Contains("digest count 0"));
  CHECK_THAT(changed(record + 8, 9), Catch::Contains("digest count 9"));
  CHECK_THAT(changed(record + 12, 0x0C), Catch::Contains("does not declare"));  // sha384
  CHECK_THAT(changed(record + 49, 0x02), Catch::Contains("implausible"));       // 32 MiB
}

TEST_CASE("replay agrees with tpm2_eventlog", "[eventlog]") {
  if (std::system("command -v tpm2_eventlog >/dev/null 2>&1") != 0) {
    WARN("tpm2_eventlog not installed: cross-check skipped");
    return;
  }
  LogBuilder builder({kAlgSha1, kAlgSha256});
  builder.event(0, kEvSCrtmVersion, "firmware")
      .event(4, kEvEfiAction, "Calling EFI Application from Boot Option")
      .event(7, kEvSeparator, std::string_view("\0\0\0\0", 4))
      .event(4, kEvSeparator, std::string_view("\0\0\0\0", 4));
  auto dir = TempDir::create(std::filesystem::temp_directory_path(), "cairn-eventlog-");
  REQUIRE(dir.has_value());
  auto path = dir->path() / "log.bin";
  auto& bytes = builder.bytes();
  REQUIRE(write_file_atomic(path, {reinterpret_cast<const char*>(bytes.data()), bytes.size()}));
  std::string output;
  FILE* pipe = ::popen(("tpm2_eventlog " + path.string() + " 2>/dev/null").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  ::pclose(pipe);
  auto log = parse_event_log(bytes);
  REQUIRE(log.has_value());
  auto pcrs = replay(*log, kAlgSha256);
  auto sha256_block = output.substr(output.find("sha256:", output.find("pcrs:")));
  for (auto& [index, value] : pcrs) {
    INFO("PCR " << index);
    CHECK_THAT(sha256_block, Catch::Contains(std::to_string(index) + "  : 0x" + to_hex(value)));
  }
}
