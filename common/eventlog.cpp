#include "common/eventlog.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstring>

namespace cairn::tpm {

namespace {

constexpr std::size_t kMaxDigests = 8;
constexpr std::uint32_t kMaxEventSize = 16u << 20;
constexpr std::string_view kSpecIdSignature{"Spec ID Event03\0", 16};
constexpr std::string_view kStartupLocalitySignature{"StartupLocality\0", 16};

struct TypeName {
  std::uint32_t type;
  std::string_view name;
};

constexpr std::array kTypeNames{
    TypeName{kEvPostCode, "EV_POST_CODE"},
    TypeName{kEvNoAction, "EV_NO_ACTION"},
    TypeName{kEvSeparator, "EV_SEPARATOR"},
    TypeName{kEvAction, "EV_ACTION"},
    TypeName{kEvEventTag, "EV_EVENT_TAG"},
    TypeName{kEvSCrtmContents, "EV_S_CRTM_CONTENTS"},
    TypeName{kEvSCrtmVersion, "EV_S_CRTM_VERSION"},
    TypeName{kEvIpl, "EV_IPL"},
    TypeName{kEvEfiVariableDriverConfig, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
    TypeName{kEvEfiVariableBoot, "EV_EFI_VARIABLE_BOOT"},
    TypeName{kEvEfiBootServicesApplication, "EV_EFI_BOOT_SERVICES_APPLICATION"},
    TypeName{kEvEfiBootServicesDriver, "EV_EFI_BOOT_SERVICES_DRIVER"},
    TypeName{kEvEfiRuntimeServicesDriver, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
    TypeName{kEvEfiGptEvent, "EV_EFI_GPT_EVENT"},
    TypeName{kEvEfiAction, "EV_EFI_ACTION"},
    TypeName{kEvEfiPlatformFirmwareBlob, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
    TypeName{kEvEfiHandoffTables, "EV_EFI_HANDOFF_TABLES"},
    TypeName{kEvEfiPlatformFirmwareBlob2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
    TypeName{kEvEfiHandoffTables2, "EV_EFI_HANDOFF_TABLES2"},
    TypeName{kEvEfiVariableBoot2, "EV_EFI_VARIABLE_BOOT2"},
    TypeName{kEvEfiHcrtmEvent, "EV_EFI_HCRTM_EVENT"},
    TypeName{kEvEfiVariableAuthority, "EV_EFI_VARIABLE_AUTHORITY"},
    TypeName{kEvEfiSpdmFirmwareBlob, "EV_EFI_SPDM_FIRMWARE_BLOB"},
    TypeName{kEvEfiSpdmFirmwareConfig, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
};

// Little-endian reads with bounds checks; every failure names where and what.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::size_t offset() const { return offset_; }
  std::size_t left() const { return bytes_.size() - offset_; }
  bool at_end() const { return offset_ == bytes_.size(); }

  Expected<std::uint32_t> u32(std::string_view what) { return little_endian<4>(what); }
  Expected<std::uint16_t> u16(std::string_view what) {
    return static_cast<std::uint16_t>(CAIRN_TRY(little_endian<2>(what)));
  }
  Expected<std::uint8_t> u8(std::string_view what) {
    return static_cast<std::uint8_t>(CAIRN_TRY(little_endian<1>(what)));
  }
  Expected<std::span<const std::uint8_t>> take(std::size_t size, std::string_view what) {
    if (size > left()) {
      return fail(Errc::integrity, std::string(what) + " of " + std::to_string(size) +
                                       " bytes runs past the end (" + std::to_string(left()) +
                                       " bytes left)");
    }
    auto out = bytes_.subspan(offset_, size);
    offset_ += size;
    return out;
  }

 private:
  template <std::size_t N>
  Expected<std::uint32_t> little_endian(std::string_view what) {
    auto raw = CAIRN_TRY(take(N, what));
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < N; ++i) value |= static_cast<std::uint32_t>(raw[i]) << (8 * i);
    return value;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t offset_ = 0;
};

Status at_offset(Status status, std::string_view where, std::size_t offset) {
  if (!status) {
    status.error().with_context("event log: " + std::string(where) + " at offset " +
                                std::to_string(offset));
  }
  return status;
}

// The first record: a SHA-1-format TCG_PCR_EVENT whose data is the TCG_EfiSpecIDEvent.
Status read_header(Reader& in, EventLog& log) {
  CAIRN_TRY(in.u32("PCR index"));
  std::uint32_t type = CAIRN_TRY(in.u32("event type"));
  CAIRN_TRY(in.take(20, "SHA-1 digest"));
  std::uint32_t size = CAIRN_TRY(in.u32("event size"));
  if (type != kEvNoAction) {
    return fail(Errc::integrity, "first event is not the Spec ID event (type " +
                                     std::to_string(type) + "): not a crypto-agile log");
  }
  if (size > kMaxEventSize) return fail(Errc::integrity, "Spec ID event too large");
  Reader spec(CAIRN_TRY(in.take(size, "Spec ID event")));
  auto signature = CAIRN_TRY(spec.take(16, "signature"));
  if (std::memcmp(signature.data(), kSpecIdSignature.data(), 16) != 0) {
    return fail(Errc::integrity, "Spec ID signature is not \"Spec ID Event03\"");
  }
  CAIRN_TRY(spec.take(4 + 3, "platform class and version"));  // class, minor, major, errata
  CAIRN_TRY(spec.u8("uintn size"));
  std::uint32_t count = CAIRN_TRY(spec.u32("algorithm count"));
  if (count == 0 || count > kMaxDigests) {
    return fail(Errc::integrity, "Spec ID event lists " + std::to_string(count) + " algorithms");
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint16_t algorithm = CAIRN_TRY(spec.u16("algorithm id"));
    std::uint16_t size_bytes = CAIRN_TRY(spec.u16("digest size"));
    if (std::size_t known = digest_size(algorithm); known != 0 && known != size_bytes) {
      return fail(Errc::integrity, "Spec ID event gives algorithm " + std::to_string(algorithm) +
                                       " a digest size of " + std::to_string(size_bytes));
    }
    if (size_bytes == 0 || size_bytes > 64) {
      return fail(Errc::integrity, "Spec ID event: digest size " + std::to_string(size_bytes));
    }
    log.algorithms.emplace_back(algorithm, size_bytes);
  }
  return {};
}

Expected<Event> read_event(Reader& in, const EventLog& log) {
  Event event;
  event.offset = in.offset();
  event.pcr = CAIRN_TRY(in.u32("PCR index"));
  event.type = CAIRN_TRY(in.u32("event type"));
  std::uint32_t count = CAIRN_TRY(in.u32("digest count"));
  if (count == 0 || count > kMaxDigests) {
    return fail(Errc::integrity, "digest count " + std::to_string(count));
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint16_t algorithm = CAIRN_TRY(in.u16("algorithm id"));
    std::size_t size = 0;
    for (auto [id, declared] : log.algorithms) {
      if (id == algorithm) size = declared;
    }
    if (size == 0) {
      return fail(Errc::integrity, "digest of algorithm " + std::to_string(algorithm) +
                                       ", which the Spec ID event does not declare");
    }
    auto bytes = CAIRN_TRY(in.take(size, "digest"));
    event.digests.push_back({algorithm, {bytes.begin(), bytes.end()}});
  }
  std::uint32_t size = CAIRN_TRY(in.u32("event size"));
  if (size > kMaxEventSize) {
    return fail(Errc::integrity, "event data size " + std::to_string(size) + " is implausible");
  }
  auto data = CAIRN_TRY(in.take(size, "event data"));
  event.data.assign(data.begin(), data.end());
  return event;
}

}  // namespace

std::string_view event_type_name(std::uint32_t type) {
  for (const auto& entry : kTypeNames) {
    if (entry.type == type) return entry.name;
  }
  return {};
}

bool is_known_event_type(std::uint32_t type) { return !event_type_name(type).empty(); }

const EVP_MD* digest_algorithm(std::uint16_t algorithm) {
  switch (algorithm) {
    case kAlgSha1:
      return EVP_sha1();
    case kAlgSha256:
      return EVP_sha256();
    case kAlgSha384:
      return EVP_sha384();
    case kAlgSha512:
      return EVP_sha512();
    default:
      return nullptr;
  }
}

std::size_t digest_size(std::uint16_t algorithm) {
  const EVP_MD* md = digest_algorithm(algorithm);
  return md ? static_cast<std::size_t>(EVP_MD_get_size(md)) : 0;
}

const Digest* Event::digest(std::uint16_t algorithm) const {
  for (const auto& entry : digests) {
    if (entry.algorithm == algorithm) return &entry;
  }
  return nullptr;
}

Expected<EventLog> parse_event_log(std::span<const std::uint8_t> bytes) {
  Reader in(bytes);
  EventLog log;
  CAIRN_CHECK(at_offset(read_header(in, log), "Spec ID header", 0));
  while (!in.at_end()) {
    std::size_t offset = in.offset();
    auto event = read_event(in, log);
    if (!event) {
      return std::unexpected(
          std::move(event.error())
              .with_context("event log: record at offset " + std::to_string(offset)));
    }
    log.events.push_back(std::move(*event));
  }
  return log;
}

std::vector<std::uint8_t> extend(std::span<const std::uint8_t> pcr,
                                 std::span<const std::uint8_t> digest, std::uint16_t algorithm) {
  const EVP_MD* md = digest_algorithm(algorithm);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(EVP_MD_get_size(md)));
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, md, nullptr);
  EVP_DigestUpdate(context, pcr.data(), pcr.size());
  EVP_DigestUpdate(context, digest.data(), digest.size());
  EVP_DigestFinal_ex(context, out.data(), nullptr);
  EVP_MD_CTX_free(context);
  return out;
}

std::map<std::uint32_t, std::vector<std::uint8_t>> replay(const EventLog& log,
                                                          std::uint16_t algorithm) {
  std::map<std::uint32_t, std::vector<std::uint8_t>> pcrs;
  std::size_t size = digest_size(algorithm);
  if (size == 0) return pcrs;
  auto pcr = [&](std::uint32_t index) -> std::vector<std::uint8_t>& {
    auto [it, inserted] = pcrs.try_emplace(index, size, std::uint8_t{0});
    return it->second;
  };
  for (const auto& event : log.events) {
    if (event.type == kEvNoAction) {
      // The firmware started the TPM from a locality other than 0: PCR 0 starts at that value.
      if (event.pcr == 0 && event.data.size() >= 17 &&
          std::memcmp(event.data.data(), kStartupLocalitySignature.data(), 16) == 0) {
        pcr(0).back() = event.data[16];
      }
      continue;
    }
    const Digest* digest = event.digest(algorithm);
    if (!digest) continue;
    auto& value = pcr(event.pcr);
    value = extend(value, digest->bytes, algorithm);
  }
  return pcrs;
}

}  // namespace cairn::tpm
