#include "builder/stages/commit.hpp"

#include <ostree.h>

#include "builder/ostree_repo.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

// Copies the commit into the archive repo and attaches its signature there.
Status archive_commit(const fs::path& archive, const fs::path& staging, const std::string& checksum,
                      const std::string& signature) {
  auto repo = CAIRN_TRY(ostree::open_repo(archive, true));
  CAIRN_CHECK(ostree::pull_commit(repo.get(), staging, checksum));
  if (signature.empty()) return {};
  GVariantBuilder detached;
  g_variant_builder_init(&detached, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(
      &detached, "{sv}", kCommitSignatureKey,
      g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, signature.data(), signature.size(), 1));
  return ostree::write_detached_metadata(
      repo.get(), checksum,
      ostree::VariantPtr(g_variant_ref_sink(g_variant_builder_end(&detached))));
}

}  // namespace

Expected<CommitOutput> commit_tree_to_repo(const CommitInput& input, Progress& progress) {
  std::optional<std::string> parent;
  {
    auto archive = CAIRN_TRY(ostree::open_repo(input.repo, true));
    parent = CAIRN_TRY(ostree::resolve(archive.get(), input.ref));
  }
  auto repo = CAIRN_TRY(ostree::open_repo(input.staging_repo, true, ostree::RepoMode::bare));

  GVariantBuilder builder;
  g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&builder, "{sv}", kVersionKey, g_variant_new_string(input.version.c_str()));
  g_variant_builder_add(&builder, "{sv}", kRecipeDigestKey,
                        g_variant_new_string(input.recipe_digest.c_str()));
  std::vector<const char*> packages;
  for (const auto& package : input.packages) packages.push_back(package.c_str());
  g_variant_builder_add(&builder, "{sv}", kPackagesKey,
                        g_variant_new_strv(packages.data(), static_cast<gssize>(packages.size())));
  ostree::VariantPtr metadata(g_variant_ref_sink(g_variant_builder_end(&builder)));

  progress.stage_detail("commit", "writing objects to " + input.staging_repo.string());
  ostree::CommitStats stats;
  CommitOutput output;
  output.checksum = CAIRN_TRY(ostree::commit_tree(
      repo.get(),
      {.tree = input.tree,
       .parent = parent,
       .subject = "cairn " + input.ref + " " + input.version,
       .metadata = std::move(metadata),
       .timestamp = static_cast<std::uint64_t>(input.source_date_epoch),
       .consume = input.consume_tree,
       .on_progress =
           [&](std::uint64_t entries) {
             progress.stage_detail("commit", std::to_string(entries) + " files committed");
           }},
      &stats));
  output.files_written = stats.files_written;
  output.dev_entries_left_out = stats.dev_entries_left_out;
  if (stats.dev_entries_left_out > 0) {
    progress.stage_detail("commit", "left out " + std::to_string(stats.dev_entries_left_out) +
                                        " entries in /dev (devtmpfs is mounted over it)");
  }
  output.tree_checksum = stats.tree_checksum;
  std::string signature;
  if (input.signer) {
    // The checksum names the commit object, which names the whole tree and its metadata.
    signature = CAIRN_TRY(
        with_context(input.signer->sign(output.checksum), "signing commit " + output.checksum));
    output.is_signed = true;
  }
  output.archived = std::async(std::launch::async, archive_commit, input.repo, input.staging_repo,
                               output.checksum, std::move(signature))
                        .share();
  return output;
}

Status publish_ref(const fs::path& repo_path, const std::string& ref, const std::string& checksum) {
  auto repo = CAIRN_TRY(ostree::open_repo(repo_path, false));
  return ostree::set_ref(repo.get(), ref, checksum);
}

Status checkout_commit(const fs::path& repo_path, const std::string& checksum,
                       const fs::path& destination, bool link_to_repo) {
  auto repo = CAIRN_TRY(ostree::open_repo(repo_path, false));
  return ostree::checkout(repo.get(), checksum, destination, link_to_repo);
}

}  // namespace cairn::builder
