#include "builder/history.hpp"

#include <map>

#include "builder/ostree_repo.hpp"
#include "builder/stages/commit.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

bool has_signature(OstreeRepo* repo, const std::string& checksum) {
  auto detached = ostree::read_detached_metadata(repo, checksum);
  return detached && ostree::metadata_bytes(detached->get(), kCommitSignatureKey).has_value();
}

std::map<std::string, std::string> package_map(const std::vector<std::string>& packages) {
  std::map<std::string, std::string> out;
  for (const auto& entry : packages) {
    auto eq = entry.find('=');
    out[entry.substr(0, eq)] = eq == std::string::npos ? "" : entry.substr(eq + 1);
  }
  return out;
}

}  // namespace

Expected<std::vector<VersionEntry>> list_versions(const fs::path& repo_path,
                                                  const std::string& ref) {
  auto repo = CAIRN_TRY(ostree::open_repo(repo_path, false));
  auto head = CAIRN_TRY(ostree::resolve(repo.get(), ref));
  if (!head) return fail(Errc::not_found, "no ref '" + ref + "' in " + repo_path.string());
  std::vector<VersionEntry> versions;
  std::optional<std::string> next = head;
  while (next) {
    auto commit = ostree::load_commit(repo.get(), *next);
    if (!commit) break;  // a pruned parent ends the history
    versions.push_back(
        {.checksum = commit->checksum,
         .version = ostree::metadata_string(commit->metadata.get(), kVersionKey).value_or(""),
         .recipe_digest =
             ostree::metadata_string(commit->metadata.get(), kRecipeDigestKey).value_or(""),
         .timestamp = commit->timestamp,
         .is_signed = has_signature(repo.get(), commit->checksum)});
    next = commit->parent;
  }
  return versions;
}

Expected<std::string> find_commit_by_version(const fs::path& repo, const std::string& ref,
                                             const std::string& version) {
  for (const auto& entry : CAIRN_TRY(list_versions(repo, ref))) {
    if (entry.version == version) return entry.checksum;  // newest build of that version
  }
  return fail(Errc::not_found, "no version '" + version + "' in the history of " + ref);
}

Expected<CommitReport> inspect_commit(const fs::path& repo_path, const std::string& rev,
                                      SignatureVerifier* verifier) {
  auto repo = CAIRN_TRY(ostree::open_repo(repo_path, false));
  auto checksum = CAIRN_TRY(ostree::resolve(repo.get(), rev));
  if (!checksum) return fail(Errc::not_found, "no ref or commit '" + rev + "'");
  auto commit = CAIRN_TRY(ostree::load_commit(repo.get(), *checksum));
  CommitReport report{
      .checksum = *checksum, .subject = commit.subject, .timestamp = commit.timestamp};
  report.version = ostree::metadata_string(commit.metadata.get(), kVersionKey).value_or("");
  report.recipe_digest =
      ostree::metadata_string(commit.metadata.get(), kRecipeDigestKey).value_or("");
  report.packages = ostree::metadata_strings(commit.metadata.get(), kPackagesKey);
  auto detached = CAIRN_TRY(ostree::read_detached_metadata(repo.get(), *checksum));
  auto signature = ostree::metadata_bytes(detached.get(), kCommitSignatureKey);
  if (!signature) {
    report.signature_state = "absent";
  } else if (!verifier) {
    report.signature_state = "unchecked";
  } else if (auto signer = verifier->verify(*checksum, *signature)) {
    report.signature_state = "valid";
    report.signature_detail = signer->subject;
  } else {
    report.signature_state = "invalid";
    report.signature_detail = signer.error().describe();
    report.signature_error = signer.error().code();
  }
  return report;
}

Expected<VersionDiff> diff_versions(const fs::path& repo_path, const std::string& ref,
                                    const std::string& from, const std::string& to) {
  VersionDiff diff{.from_version = from, .to_version = to};
  diff.from_commit = CAIRN_TRY(find_commit_by_version(repo_path, ref, from));
  diff.to_commit = CAIRN_TRY(find_commit_by_version(repo_path, ref, to));
  auto repo = CAIRN_TRY(ostree::open_repo(repo_path, false));
  auto files = CAIRN_TRY(ostree::diff_commits(repo.get(), diff.from_commit, diff.to_commit));
  diff.added = std::move(files.added);
  diff.removed = std::move(files.removed);
  diff.modified = std::move(files.modified);
  auto a = CAIRN_TRY(ostree::load_commit(repo.get(), diff.from_commit));
  auto b = CAIRN_TRY(ostree::load_commit(repo.get(), diff.to_commit));
  auto old_packages = package_map(ostree::metadata_strings(a.metadata.get(), kPackagesKey));
  auto new_packages = package_map(ostree::metadata_strings(b.metadata.get(), kPackagesKey));
  for (const auto& [name, version] : new_packages) {
    auto it = old_packages.find(name);
    if (it == old_packages.end())
      diff.packages_added.push_back(name + " " + version);
    else if (it->second != version)
      diff.packages_changed.push_back(name + " " + it->second + " → " + version);
  }
  for (const auto& [name, version] : old_packages) {
    if (!new_packages.contains(name)) diff.packages_removed.push_back(name + " " + version);
  }
  return diff;
}

nlohmann::json VersionEntry::to_json() const {
  return {{"commit", checksum},
          {"version", version},
          {"timestamp", timestamp},
          {"recipe_digest", recipe_digest},
          {"signed", is_signed}};
}

nlohmann::json CommitReport::to_json() const {
  nlohmann::json signature = {{"state", signature_state}, {"detail", signature_detail}};
  if (signature_error) signature["error"] = errc_name(*signature_error);
  return {{"kind", "commit"},
          {"commit", checksum},
          {"version", version},
          {"subject", subject},
          {"timestamp", timestamp},
          {"recipe_digest", recipe_digest},
          {"package_count", packages.size()},
          {"packages", packages},
          {"signature", signature}};
}

nlohmann::json VersionDiff::to_json() const {
  return {
      {"from", {{"version", from_version}, {"commit", from_commit}}},
      {"to", {{"version", to_version}, {"commit", to_commit}}},
      {"files", {{"added", added}, {"removed", removed}, {"modified", modified}}},
      {"packages",
       {{"added", packages_added}, {"removed", packages_removed}, {"changed", packages_changed}}}};
}

}  // namespace cairn::builder
