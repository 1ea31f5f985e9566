// `cairn-build inspect DISK-IMAGE`: what a built (or deployed) disk holds — partitions, the
// boot entries on the ESP with their versions and Secure Boot signatures, and whether each
// entry's slot still matches its dm-verity root hash.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/gpt.hpp"
#include "common/pe.hpp"
#include "common/process.hpp"

namespace cairn::builder {

struct BootEntryReport {
  std::string file;       // EFI/Linux/cairn_1.0.0+3-0.efi
  std::string version;    // IMAGE_VERSION from .osrel
  std::string root_hash;  // from .cmdline
  std::string signature;  // "valid", "invalid", "unchecked"
  std::string verity;     // "valid", "invalid: …", "no slot"
};

struct ImageReport {
  GptDisk disk;
  std::vector<BootEntryReport> entries;

  // True when every checked signature and verity tree is valid.
  bool all_valid() const;
  nlohmann::json to_json() const;
};

// `db_cert` may be empty: signatures are then "unchecked".
Expected<ImageReport> inspect_disk_image(const std::filesystem::path& image,
                                         const std::filesystem::path& db_cert,
                                         ProcessRunner& runner);

}  // namespace cairn::builder
