#include "builder/publish.hpp"

#include <chrono>

#include "builder/keys.hpp"
#include "common/cms.hpp"
#include "common/duration.hpp"
#include "fleet/repo_bundle.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStage = "publish";

// A bundle left by an earlier `cairn-build bundle` of this build directory is published only if
// it is still this build's: a rebuild of the same version replaces the image, not the bundle.
Status check_bundle_is_build(const fs::path& bundle, const BuildSummary& build,
                             SignatureVerifier& trust) {
  auto manifest = CAIRN_TRY(fleet::read_bundle_manifest(bundle, trust));
  if (manifest.name != build.recipe || manifest.version != build.version ||
      manifest.root_hash != build.root_hash) {
    return fail(Errc::invalid_input, bundle.string() + " is not this build's bundle (its image " +
                                         manifest.name + " " + manifest.version +
                                         " has another root hash): remove it, or make it again "
                                         "with cairn-build bundle --output " +
                                         bundle.string());
  }
  return {};
}

}  // namespace

Expected<fleet::PublishRequest> publish_request(const PublishArgs& args, fleet::TimePoint now) {
  fleet::PublishRequest request{.repo = args.repo, .channel = args.channel, .now = now};
  request.rollout.waves = CAIRN_TRY(fleet::parse_wave_list(args.waves));
  request.rollout.max_failures = args.max_failures;
  if (!args.start.empty()) {
    request.rollout.start = CAIRN_TRY(with_context(fleet::parse_time(args.start), "--start"));
  }
  request.expires_in = CAIRN_TRY(with_context(parse_duration(args.expires_in), "--expires-in"));
  request.state = CAIRN_TRY(with_context(fleet::parse_entry_state(args.state), "--state"));
  return request;
}

Expected<PublishBuildResult> publish_build(const fs::path& build_dir, const fs::path& keys_dir,
                                           fleet::PublishRequest request, Progress& progress) {
  CAIRN_CHECK(fleet::check_publish_request(request));  // before minutes of bundling
  auto build = CAIRN_TRY(read_build_summary(build_dir));
  auto keys = CAIRN_TRY(load_build_keys(keys_dir));
  auto signer = CAIRN_TRY(CmsSigner::load(keys.signing_key, keys.signing_cert));
  auto trust = CAIRN_TRY(with_context(CmsVerifier::load(keys.trust_dir), "trust anchors"));

  PublishBuildResult result{.bundle = build_dir / (build.stem() + ".cairnb")};
  std::error_code ec;
  if (fs::exists(result.bundle, ec)) {
    CAIRN_CHECK(check_bundle_is_build(result.bundle, build, trust));
  } else {
    CAIRN_TRY(write_bundle(
        {.build_dir = build_dir, .output = result.bundle, .db_cert = keys.trust_dir / "db.crt"},
        signer, progress));
    result.bundle_made = true;
  }

  progress.stage_started(kStage);
  auto started = std::chrono::steady_clock::now();
  request.bundle = result.bundle;
  result.published = CAIRN_TRY(fleet::publish_bundle(request, signer, trust));
  progress.stage_finished(kStage, std::chrono::steady_clock::now() - started);
  return result;
}

nlohmann::ordered_json to_json(const PublishBuildResult& result) {
  const fleet::PublishResult& published = result.published;
  const fleet::ChannelIndex& index = published.index;
  // The entry exactly as the signed index spells it.
  nlohmann::ordered_json document = nlohmann::ordered_json::parse(fleet::channel_index_json(index)),
                         entry;
  for (const auto& candidate : document["entries"]) {
    if (candidate["version"] == published.entry.version &&
        candidate["machine_class"] == published.entry.machine_class) {
      entry = candidate;
    }
  }
  return {{"channel", index.channel},
          {"serial", index.serial},
          {"expires", fleet::format_time(index.expires)},
          {"index", published.files.index.string()},
          {"signature", published.files.signature.string()},
          {"entries", index.entries.size()},
          {"replaced", published.replaced},
          {"bundle",
           {{"source", result.bundle.string()},
            {"made", result.bundle_made},
            {"path", published.bundle_path.string()},
            {"copied", published.bundle_copied}}},
          {"entry", entry}};
}

std::string summary(const PublishBuildResult& result) {
  const fleet::PublishResult& published = result.published;
  const fleet::ChannelEntry& entry = published.entry;
  return std::string(published.replaced ? "Replaced " : "Published ") + entry.version + " (" +
         entry.machine_class + ", " + std::string(fleet::entry_state_name(entry.state)) +
         ") in channel " + published.index.channel + ": serial " +
         std::to_string(published.index.serial) + ", expires " +
         fleet::format_time(published.index.expires) + ", waves " +
         fleet::format_wave_list(entry.rollout.waves) + " from " +
         fleet::format_time(entry.rollout.start) + ", max failures " +
         std::to_string(entry.rollout.max_failures) + "; bundle " + entry.bundle.path +
         (published.bundle_copied ? "" : " (already there)");
}

}  // namespace cairn::builder
