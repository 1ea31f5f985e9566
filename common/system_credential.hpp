// Where a system credential (systemd.system-credentials(7)) is found by this process. A VMM or
// boot loader gives a machine its own settings that way (SMBIOS type 11, or a credential on the
// ESP); PID 1 keeps them in /run/credentials/@system. A sandboxed service does not see that
// directory: it gets its own copies with LoadCredential=NAME, in $CREDENTIALS_DIRECTORY.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string_view>

namespace cairn {

// `root` is "/" on a host (where $CREDENTIALS_DIRECTORY, when set, wins) or a test tree.
inline std::filesystem::path system_credential(std::string_view name,
                                               const std::filesystem::path& root = "/") {
  if (root == "/") {
    const char* own = std::getenv("CREDENTIALS_DIRECTORY");
    if (own != nullptr && *own != '\0') return std::filesystem::path(own) / name;
  }
  return root / "run/credentials/@system" / name;
}

}  // namespace cairn
