// What `cairn-update poll` remembers between runs (/var/lib/cairn/fleet.json, written
// atomically), and the channel index it last accepted (fleet-index.json and its .sig), which a
// 304 Not Modified answer means is still current.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn::updater {

// The update this host took from its channel, and what the rollout asked of it.
struct AdoptedUpdate {
  std::string version;
  std::string channel;
  unsigned max_failures = 1;
};

struct LastPoll {
  std::string at;  // RFC 3339
  bool ok = true;
  std::string message;  // one line: what the poll did, or why it could not
};

struct PollState {
  std::optional<std::uint64_t> last_serial;  // never accept a lower one (a replayed index)
  std::string etag;                          // of the cached index
  std::int64_t lease = 0;                    // the fleet store's lease keeping this host alive
  std::string published;  // the host record last written to the store (without its time)
  std::vector<std::uint64_t> reported;  // history records whose outcome the store has
  std::optional<AdoptedUpdate> adopted;
  std::optional<LastPoll> last;
};

// A missing file is a host that never polled; a malformed one is an error.
Expected<PollState> load_poll_state(const std::filesystem::path& state_dir);
// `durable`: fsynced. A poll that changed nothing but its time need not be (replace_file).
Status save_poll_state(const std::filesystem::path& state_dir, const PollState& state,
                       bool durable = true);
// Whether `a` and `b` differ in more than the last poll's time.
bool differs_beyond_poll_time(const PollState& a, const PollState& b);

struct CachedIndex {
  std::string index;
  std::string signature;
};
Expected<std::optional<CachedIndex>> load_cached_index(const std::filesystem::path& state_dir);
Status save_cached_index(const std::filesystem::path& state_dir, const CachedIndex& cached);

}  // namespace cairn::updater
