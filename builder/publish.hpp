// `cairn-build publish`: a finished build's bundle into a channel repository (fleet/channel_repo).
// The bundle is the one `cairn-build bundle` writes by default, <build>/<recipe>_<version>.cairnb:
// used when it is there and still the build's (same image, version and root hash), made there
// first when it is not. The keys directory gives both the signing key (bundle and index) and the
// trust anchors hosts have (trust/), against which the bundle and the index are checked.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "builder/bundle.hpp"
#include "common/progress.hpp"
#include "fleet/channel_repo.hpp"

namespace cairn::builder {

// The command line's options, as typed (--waves, --start, --expires-in, --state).
struct PublishArgs {
  std::filesystem::path repo;
  std::string channel;
  std::string waves = "1:0s";
  unsigned max_failures = 1;
  std::string start;  // empty: now
  std::string expires_in = "7d";
  std::string state = "active";
};
// Errc::invalid_input naming the option that does not read.
Expected<fleet::PublishRequest> publish_request(const PublishArgs& args, fleet::TimePoint now);

struct PublishBuildResult {
  fleet::PublishResult published;
  std::filesystem::path bundle;  // the build's bundle that was published
  bool bundle_made = false;      // made by this run (there was none)
};

// `request.bundle` is ignored: the build's bundle is published.
Expected<PublishBuildResult> publish_build(const std::filesystem::path& build_dir,
                                           const std::filesystem::path& keys_dir,
                                           fleet::PublishRequest request, Progress& progress);

// --json's document: the channel, its new serial and expiry, the files written, the entry as the
// index holds it.
nlohmann::ordered_json to_json(const PublishBuildResult& result);
// One line for people: what was published where.
std::string summary(const PublishBuildResult& result);

}  // namespace cairn::builder
