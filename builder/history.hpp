// The OSTree repo as the history of golden images: versions on a ref, one commit inspected
// (signature included), and what changed between two versions — files and packages.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/signer.hpp"

namespace cairn::builder {

struct VersionEntry {
  std::string checksum, version, recipe_digest;
  std::uint64_t timestamp = 0;
  bool is_signed = false;  // a signature is attached (not checked here: see inspect_commit)

  nlohmann::json to_json() const;
};

// Newest first, following parents from the ref's head.
Expected<std::vector<VersionEntry>> list_versions(const std::filesystem::path& repo,
                                                  const std::string& ref);

Expected<std::string> find_commit_by_version(const std::filesystem::path& repo,
                                             const std::string& ref, const std::string& version);

struct CommitReport {
  std::string checksum, version, recipe_digest, subject;
  std::uint64_t timestamp = 0;
  std::vector<std::string> packages;
  std::string signature_state;   // "valid", "invalid", "absent", "unchecked"
  std::string signature_detail;  // signer, or why invalid
  // When invalid: Errc::integrity (bytes do not match) or Errc::crypto (untrusted signer).
  std::optional<Errc> signature_error;

  nlohmann::json to_json() const;
};

// `rev`: a ref or a checksum. A null verifier leaves the signature "unchecked".
Expected<CommitReport> inspect_commit(const std::filesystem::path& repo, const std::string& rev,
                                      SignatureVerifier* verifier);

struct VersionDiff {
  std::string from_version, to_version, from_commit, to_commit;
  std::vector<std::string> added, removed, modified;                            // files
  std::vector<std::string> packages_added, packages_removed, packages_changed;  // "name a → b"

  nlohmann::json to_json() const;
};

Expected<VersionDiff> diff_versions(const std::filesystem::path& repo, const std::string& ref,
                                    const std::string& from, const std::string& to);

}  // namespace cairn::builder
