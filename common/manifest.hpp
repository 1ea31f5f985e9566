// The update bundle's manifest (format 1, see DESIGN.md "Update bundle"): what a bundle holds and
// for which hosts. It is the signed part of a bundle — every payload is checked against it — so
// parsing is strict: unknown keys, unsafe names and missing payloads are errors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace cairn {

enum class PayloadTarget { root, verity, uki };
enum class PayloadCompression { none, zstd };

std::string_view to_string(PayloadTarget target);
std::string_view to_string(PayloadCompression compression);

struct ManifestPayload {
  std::string name;  // tar member name: a plain file name
  PayloadTarget target = PayloadTarget::root;
  std::uint64_t size = 0;  // bytes once decompressed: what lands in the slot
  std::string sha256;      // hex, of those bytes
  PayloadCompression compression = PayloadCompression::none;
};

// The largest UKI a manifest may declare: two of them (the running slot's and the new one) must
// fit a 256 MiB ESP with room to spare. Cairn's UKIs are about 30 MiB.
inline constexpr std::uint64_t kMaxUkiBytes = std::uint64_t{128} << 20;

struct BundleManifest {
  static constexpr int kFormat = 1;

  std::string name;                       // the recipe's image name
  std::string version;                    // image version
  std::uint64_t security_version = 0;     // anti-rollback floor: hosts refuse anything lower
  std::string machine_class;              // hosts install only bundles of their own class
  std::string created;                    // RFC 3339, UTC (SOURCE_DATE_EPOCH for reproducibility)
  std::string root_hash;                  // dm-verity root hash of the root payload (hex)
  std::vector<ManifestPayload> payloads;  // in archive order

  const ManifestPayload* find(PayloadTarget target) const;
};

// Parses and validates; errors (Errc::invalid_input) name the offending key.
Expected<BundleManifest> parse_manifest(std::string_view json);
// Canonical JSON (stable key order, two-space indent, trailing newline).
std::string to_json(const BundleManifest& manifest);

// True for a name safe as a tar member and as a file name: [A-Za-z0-9._+-], not starting with
// '.', at most 128 characters. No '/', so no "..", no absolute paths.
bool is_safe_member_name(std::string_view name);

}  // namespace cairn
