#include "builder/bundle.hpp"

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/bundle_writer.hpp"
#include "common/fs.hpp"
#include "common/uki_signature.hpp"
#include "common/version.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStage = "bundle";

std::string rfc3339(std::int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

Expected<BuildSummary> read_build_summary(const fs::path& build_dir) {
  fs::path build_json = build_dir / "build.json";
  auto build_text = CAIRN_TRY(read_file(build_json));
  auto build = nlohmann::json::parse(build_text, nullptr, false);
  if (build.is_discarded() || !build.is_object() || !build.contains("recipe") ||
      !build.contains("version") || !build.contains("root_hash")) {
    return fail(Errc::invalid_input, build_json.string() + " is not a cairn-build result");
  }
  BuildSummary summary{.recipe = build.value("recipe", ""),
                       .version = build.value("version", ""),
                       .root_hash = build.value("root_hash", ""),
                       .security_version = build.value("security_version", std::uint64_t{1}),
                       .machine_class = build.value("machine_class", ""),
                       .source_date_epoch = build.value("source_date_epoch", std::int64_t{0})};
  // Checked before it names a file: the version becomes part of paths.
  CAIRN_CHECK(with_context(check_version(summary.version), build_json.string()));
  return summary;
}

Expected<BundleResult> write_bundle(const BundleRequest& request, Signer& signer,
                                    Progress& progress) {
  progress.stage_started(kStage);
  auto started = std::chrono::steady_clock::now();
  auto build = CAIRN_TRY(read_build_summary(request.build_dir));
  BundleContents contents{.manifest = {.name = build.recipe,
                                       .version = build.version,
                                       .security_version = build.security_version,
                                       .machine_class = build.machine_class,
                                       .created = rfc3339(build.source_date_epoch),
                                       .root_hash = build.root_hash},
                          .mtime = build.source_date_epoch,
                          .zstd_level = request.zstd_level};
  std::string stem = build.stem();
  fs::path uki = request.build_dir / (stem + ".efi");
  // Firmware would refuse to start a UKI the db key did not sign, and each refusal costs the host
  // a boot try: such a bundle is not made.
  CAIRN_CHECK(with_context(check_uki_signature(uki, request.db_cert),
                           "checking the UKI's Secure Boot signature"));
  contents.payloads = {{"root.erofs.zst", PayloadTarget::root, request.build_dir / "root.erofs",
                        PayloadCompression::zstd},
                       {"root.verity", PayloadTarget::verity, request.build_dir / "root.verity"},
                       {"uki.efi", PayloadTarget::uki, uki}};
  fs::path output =
      request.output.empty() ? request.build_dir / (stem + ".cairnb") : request.output;
  BundleResult result{
      .path = output,
      .manifest = CAIRN_TRY(write_bundle_file(contents, signer, output, progress, kStage))};
  result.size = CAIRN_TRY(cairn::file_size(output));
  progress.stage_finished(kStage, std::chrono::steady_clock::now() - started);
  return result;
}

}  // namespace cairn::builder
