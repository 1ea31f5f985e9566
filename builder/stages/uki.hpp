// Stage 5: the Unified Kernel Image — systemd-stub with .osrel, .cmdline, .uname, .linux and
// .initrd appended (objcopy; Debian 12 has no ukify), then signed for Secure Boot with the db
// key. The command line binds the UKI to exactly one slot through the root hash.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/pe.hpp"
#include "common/process.hpp"

namespace cairn::builder {

struct UkiInput {
  std::filesystem::path stub, kernel, initrd;
  std::string os_release, cmdline, uname;
  std::filesystem::path db_key, db_cert;
  std::filesystem::path output;
  std::int64_t source_date_epoch = 0;  // the PE header's time stamp
};

struct UkiOutput {
  std::filesystem::path uki;
  std::uint64_t size = 0;
  std::vector<PeSection> sections;
};

// The order sections are appended in (big ones last, as ukify does).
const std::vector<std::string>& uki_section_order();

Expected<UkiOutput> build_uki(const UkiInput& input, ProcessRunner& runner);

// Authenticode-signs a PE file for Secure Boot (sbsign), writing `output`. sbsign puts the
// current time into the signature, so it runs under faketime at `source_date_epoch`: the same
// input and key give the same bytes.
Status sign_efi_binary(const std::filesystem::path& input, const std::filesystem::path& output,
                       const std::filesystem::path& key, const std::filesystem::path& cert,
                       std::int64_t source_date_epoch, ProcessRunner& runner);

// Whether `path` carries a valid signature by `cert` (sbverify).
Status verify_efi_signature(const std::filesystem::path& path, const std::filesystem::path& cert,
                            ProcessRunner& runner);

// The kernel command line binding a UKI to its slot.
std::string slot_cmdline(const std::string& root_hash, const std::string& data_partuuid,
                         const std::string& hash_partuuid, const std::vector<std::string>& extra);

}  // namespace cairn::builder
