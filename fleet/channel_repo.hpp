// Publishing into a channel repository: a directory served as static files by any HTTP server or
// CDN (DESIGN.md "Fleet"):
//
//   <repo>/bundles/<image>_<version>.cairnb   signed update bundles, never overwritten
//   <repo>/channels/<name>.json               the channel's index (fleet/channel_index.hpp)
//   <repo>/channels/<name>.json.sig           its detached DER CMS signature
//
// Every change goes the same way: the old index is read and its signature checked (nothing
// unsigned is carried over), the change applied, the serial raised by one, the expiry set anew,
// the new bytes signed, checked against the trust hosts use, and written so that a reader sees
// the old pair or the new one — a mixed pair fails its signature check, and a host refuses it
// and asks again at its next poll. One writer at a time: the repository directory is locked
// (flock) for the whole change, and a second publisher fails at once with Errc::busy.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/signer.hpp"
#include "fleet/channel_index.hpp"

namespace cairn::fleet {

// How long a freshly signed index stays valid unless asked otherwise: a host refuses an index
// older than that (a frozen mirror), so a channel must be re-signed at least this often.
inline constexpr std::chrono::seconds kDefaultIndexLifetime = std::chrono::days(7);

struct ChannelFiles {
  std::filesystem::path index;      // <repo>/channels/<name>.json
  std::filesystem::path signature;  // <repo>/channels/<name>.json.sig
};
ChannelFiles channel_files(const std::filesystem::path& repo, std::string_view channel);

struct RolloutPlan {
  std::vector<Wave> waves = {Wave{1.0, std::chrono::seconds(0)}};
  unsigned max_failures = 1;
  std::optional<TimePoint> start;  // default: the request's `now`
};

struct PublishRequest {
  std::filesystem::path repo;
  std::string channel;
  std::filesystem::path bundle;  // a signed .cairnb
  RolloutPlan rollout;
  EntryState state = EntryState::active;
  std::chrono::seconds expires_in = kDefaultIndexLifetime;
  TimePoint now;
};

struct PublishResult {
  ChannelIndex index;                 // as signed and written
  ChannelEntry entry;                 // the one published
  ChannelFiles files;                 // the index and signature written
  std::filesystem::path bundle_path;  // <repo>/bundles/<file>
  bool bundle_copied = false;         // false: the identical file was in bundles/ already
  bool replaced = false;              // an entry of the same version and machine class was replaced
};

// The checks publish_bundle makes before it reads anything: channel name, rollout, lifetime.
// For callers with slow work to do first (making the bundle), so that a typo fails at once.
Status check_publish_request(const PublishRequest& request);

// Adds the bundle to the channel, or replaces the entry of its version and machine class.
// Refused before the repository is touched: a bad channel name or rollout, a bundle whose
// signature does not hold against `trust` (the anchors hosts have). Then, under the lock: the
// existing index must verify against `trust` too — an index that does not (tampered, or signed
// by keys since replaced) is never re-signed blindly; restore it or move it away (hosts that saw
// its serial will refuse a new channel's lower serials until it passes theirs). The bundle is
// copied to bundles/<image>_<version>.cairnb (temp file, fsync, rename; a different file already
// of that name is an error, the same file is reused) and read back in full (every payload's
// digest) before the index names it. On any failure the repository is left as it was.
Expected<PublishResult> publish_bundle(const PublishRequest& request, Signer& signer,
                                       SignatureVerifier& trust);

// A channel's index with its signature checked against `trust` and its name matched; not its
// expiry (the operator reads their own repository, expired or not). Errc::not_found when the
// channel has no index yet.
Expected<ChannelIndex> read_channel(const std::filesystem::path& repo, std::string_view channel,
                                    SignatureVerifier& trust);

// A change to a channel's index: an entry's state set, an entry copied in from another channel.
// Errors returned abandon the change.
using IndexChange = std::function<Status(ChannelIndex&)>;

struct ResignOptions {
  std::chrono::seconds expires_in = kDefaultIndexLifetime;
  bool create = false;  // a channel without an index starts empty (serial 1) instead of failing
};

// Reads the index (verified as read_channel does), applies `change`, raises the serial, sets
// expires = now + expires_in, and signs and writes the result. `cairn-fleet promote` copies an
// entry from staging into stable with it; with a change that does nothing it simply re-signs
// (a fresh expiry for a channel that did not change). Returns the index as written.
Expected<ChannelIndex> resign_channel(const std::filesystem::path& repo, std::string_view channel,
                                      const IndexChange& change, Signer& signer,
                                      SignatureVerifier& trust, TimePoint now,
                                      const ResignOptions& options = {});

// The entry of `version` for `machine_class`, or nullptr.
ChannelEntry* find_entry(ChannelIndex& index, std::string_view version,
                         std::string_view machine_class);
// Adds `entry`, or replaces the one of the same version and machine class (returns true then).
bool put_entry(ChannelIndex& index, ChannelEntry entry);

// Waves as the command line writes them: "0.1:0s,0.5:1h,1:1d" (fraction:delay after the start,
// delays as common/duration.hpp reads them), checked as an index's waves are.
Expected<std::vector<Wave>> parse_wave_list(std::string_view text);
std::string format_wave_list(const std::vector<Wave>& waves);

}  // namespace cairn::fleet
