// cairn-attest's configuration: /etc/cairn/attest.toml (from the image or the operator), then
// the system credential `cairn.attest` (a machine's own settings from its VMM or boot loader:
// SMBIOS type 11, or a credential on the ESP), then /run/cairn/attest.toml (provisioned at run
// time) on top; command-line options override all. A relative path in a file is relative to
// that file's directory, so a credential names another credential: verifier_key =
// "cairn.attest-key".
//
//   verifier_url = "https://verifier.example:8443"
//   verifier_key = "/etc/cairn/attest-token.pem"   # the verifier's token public key (PEM)
//   verifier_ca = "/etc/cairn/verifier-ca.pem"     # the only CA an https verifier may chain to
//   host = "kvm-07"                                 # default: this machine's host name
//   tcti = "device:/dev/tpmrm0"
//   event_log = "/sys/kernel/security/tpm0/binary_bios_measurements"
//   systemd_log = "/run/log/systemd/tpm2-measure.log"  # sent when it exists
//   token = "/run/cairn/attest/token"
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "attest/host/tpm_context.hpp"

namespace cairn::attest::host {

struct AgentConfig {
  std::string verifier_url;            // empty: not configured (enroll/attest need it)
  std::filesystem::path verifier_key;  // empty: not configured (check-token needs it)
  // Pins the https verifier's CA: its certificate must chain to these, not to the system's CAs.
  std::filesystem::path verifier_ca;
  std::string host;
  std::string tcti = std::string(kDefaultTcti);
  std::filesystem::path event_log = "/sys/kernel/security/tpm0/binary_bios_measurements";
  std::filesystem::path systemd_log = "/run/log/systemd/tpm2-measure.log";
  std::filesystem::path token = "/run/cairn/attest/token";
  std::filesystem::path boot_id = "/proc/sys/kernel/random/boot_id";  // not in the file: tests
  // Not in the file either: where `attest --save-submission` keeps a copy of what it sent (for
  // `cairn-verifier check` offline, or a support case); empty: nowhere.
  std::filesystem::path save_submission;
};

// /etc/cairn/attest.toml, the credential cairn.attest (common/system_credential.hpp: the
// sandboxed cairn-attest.service loads its own copy), /run/cairn/attest.toml.
std::vector<std::filesystem::path> default_config_files();

// Applies each existing file of `files` in order (a missing one is skipped), strictly: an
// unknown key or a wrong type is Errc::invalid_input naming file, line and key. Relative paths
// are taken from the file's directory. `host` defaults to the host name.
Expected<AgentConfig> load_agent_config(const std::vector<std::filesystem::path>& files);

// The same for one file that must exist (--config).
Expected<AgentConfig> load_agent_config_file(const std::filesystem::path& file);

}  // namespace cairn::attest::host
