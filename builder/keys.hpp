// `cairn-build keys`: a development PKI. Secure Boot PK/KEK/db (with the .esl/.auth files that
// systemd-boot enrolls from the ESP), an image-signing CA and a signing certificate. Only the
// public anchors in trust/ ever go into an image.
#pragma once

#include <chrono>
#include <filesystem>

#include "common/process.hpp"

namespace cairn::builder {

struct DevPkiOptions {
  bool force = false;  // overwrite existing keys
  // Validity of the signing certificate (tests make expired ones).
  std::chrono::system_clock::time_point signing_not_before = std::chrono::system_clock::now();
  std::chrono::system_clock::duration signing_validity = std::chrono::hours(24 * 365 * 2);
};

// The files a build needs, all checked to exist.
struct BuildKeys {
  std::filesystem::path dir;
  std::filesystem::path db_key, db_cert, signing_key, signing_cert, trust_dir;
  std::filesystem::path pk_auth, kek_auth, db_auth;
};

Expected<BuildKeys> create_dev_pki(const std::filesystem::path& dir, const DevPkiOptions& options,
                                   ProcessRunner& runner);

// Fails naming the first missing file ("missing key material: <path>").
Expected<BuildKeys> load_build_keys(const std::filesystem::path& dir);

}  // namespace cairn::builder
