#include "builder/stages/commit.hpp"

#include <ostree.h>

#include "common/ostree_repo.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

Expected<CommitOutput> commit_tree_to_repo(const CommitInput& input, Progress& progress) {
  auto repo = CAIRN_TRY(ostree::open_repo(input.repo, true));
  auto parent = CAIRN_TRY(ostree::resolve(repo.get(), input.ref));

  GVariantBuilder builder;
  g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&builder, "{sv}", "version", g_variant_new_string(input.version.c_str()));
  g_variant_builder_add(&builder, "{sv}", "cairn.recipe-digest",
                        g_variant_new_string(input.recipe_digest.c_str()));
  std::vector<const char*> packages;
  for (const auto& package : input.packages) packages.push_back(package.c_str());
  g_variant_builder_add(&builder, "{sv}", "cairn.packages",
                        g_variant_new_strv(packages.data(), static_cast<gssize>(packages.size())));
  ostree::VariantPtr metadata(g_variant_ref_sink(g_variant_builder_end(&builder)));

  progress.stage_detail("commit", "writing objects to " + input.repo.string());
  ostree::CommitStats stats;
  CommitOutput output;
  output.checksum = CAIRN_TRY(
      ostree::commit_tree(repo.get(),
                          {.tree = input.tree,
                           .parent = parent,
                           .subject = "cairn " + input.ref + " " + input.version,
                           .metadata = std::move(metadata),
                           .timestamp = static_cast<std::uint64_t>(input.source_date_epoch)},
                          &stats));
  output.files_written = stats.files_written;
  output.tree_checksum = stats.tree_checksum;
  if (input.signer) {
    // The checksum names the commit object, which names the whole tree and its metadata.
    auto signature = CAIRN_TRY(
        with_context(input.signer->sign(output.checksum), "signing commit " + output.checksum));
    GVariantBuilder detached;
    g_variant_builder_init(&detached, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(
        &detached, "{sv}", kCommitSignatureKey,
        g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, signature.data(), signature.size(), 1));
    CAIRN_CHECK(ostree::write_detached_metadata(
        repo.get(), output.checksum,
        ostree::VariantPtr(g_variant_ref_sink(g_variant_builder_end(&detached)))));
    output.is_signed = true;
  }
  return output;
}

Status publish_ref(const fs::path& repo_path, const std::string& ref, const std::string& checksum) {
  auto repo = CAIRN_TRY(ostree::open_repo(repo_path, false));
  return ostree::set_ref(repo.get(), ref, checksum);
}

Status checkout_commit(const fs::path& repo_path, const std::string& checksum,
                       const fs::path& destination) {
  auto repo = CAIRN_TRY(ostree::open_repo(repo_path, false));
  return ostree::checkout(repo.get(), checksum, destination);
}

}  // namespace cairn::builder
