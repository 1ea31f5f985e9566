// `cairn-update poll` (cairn-update.timer): one look at the host's channel, and what follows
// from it. In order:
//   1. the fleet store keeps the host alive (its lease) and gets the outcomes of updates it
//      has not seen (fleet_report.hpp);
//   2. the channel index is fetched conditionally (one request, 304 when nothing changed) and
//      believed only once its signature, channel, expiry and serial check out;
//   3. an update already installed waits for the reboot policy, then the reboot gate (the fleet
//      lock, the hooks, the evacuation of guests: reboot_gate.hpp); a failed update whose
//      rollback reboot the gate held back tries the gate again; one under way is left alone;
//   4. otherwise the newest version for this machine class above the running one — skipping
//      versions paused, pulled or halted (the index's state or the store's) and versions this
//      host rolled back — is installed once its wave reaches the host's bucket, through the
//      same install as `cairn-update install`, with the index's size and sha256 checked;
//   5. the host's record in the store says where it stands.
// A failure at any point changes nothing on the host; it is the poll's one-line error, kept for
// `cairn-update status`.
#pragma once

#include <functional>
#include <set>

#include "common/signer.hpp"
#include "fleet/channel_index.hpp"
#include "fleet/fleet_store.hpp"
#include "fleet/rollout.hpp"
#include "updater/channel_fetch.hpp"
#include "updater/install.hpp"
#include "updater/poll_state.hpp"
#include "updater/reboot_gate.hpp"
#include "updater/source.hpp"
#include "updater/state.hpp"
#include "updater/update_config.hpp"

namespace cairn::updater {

// An index is a few KiB; its signature a few.
inline constexpr std::uint64_t kMaxIndexBytes = 1 << 20;
inline constexpr std::uint64_t kMaxSignatureBytes = 64 << 10;

// What the host is, read before the poll.
struct PollFacts {
  std::string machine_id;
  std::string machine_class;
  std::string hostname;  // published for promotion on attested evidence
  std::string running_version;
  std::string other_version;  // the other slot's: what a rollback boots
  char booted_slot = 'A';
  HostState state;
  std::set<std::string> rolled_back;  // versions this host went back from: never retried
};

struct PollSeams {
  DocumentFetcher& fetcher;
  SignatureVerifier& verifier;
  fleet::FleetStore* store = nullptr;  // null: no fleet store, the host updates alone
  std::function<fleet::TimePoint()> now;
  std::function<int()> local_minute_of_day;  // for the reboot window
  std::function<Expected<InstallResult>(const std::string& url, SourceOptions options)> install;
  std::function<Status()> reboot;
  // Before any reboot; null: none (the unit tests of the rest).
  std::function<Expected<GateResult>(const std::string& version, RebootKind kind)> pass_gate;
};

struct PollResult {
  std::string message;                   // one line, also kept as the last poll's
  std::optional<std::string> installed;  // the version installed by this poll
  bool rebooting = false;
};

// The channel's name from its URL (…/channels/<name>.json) and the repository's root URL.
struct ChannelUrl {
  std::string name;
  std::string root;  // ends with '/'
};
Expected<ChannelUrl> parse_channel_url(const std::string& url);

// `state`: the caller's (it saves it after the poll); saved here too, durably, where losing it
// would matter — a new index accepted (its serial), an install about to start (what it adopts).
Expected<PollResult> poll_channel(const FleetConfig& config, const std::filesystem::path& state_dir,
                                  const PollFacts& facts, PollSeams& seams, PollState& state);

// The reboot policy's word on an installed update: reboot now, or the message saying when.
struct RebootDecision {
  bool reboot = false;
  std::string message;
};
RebootDecision decide_reboot(const FleetConfig& config, const std::string& version,
                             int local_minute_of_day);

}  // namespace cairn::updater
