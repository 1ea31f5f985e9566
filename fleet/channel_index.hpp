// A channel's index (channels/<name>.json in a channel repository, beside its detached CMS
// signature channels/<name>.json.sig): which versions a host of a machine class may install,
// where their bundles are, and how fast each rolls out. The repository is static files, so any
// HTTP server or CDN serves it; authenticity comes from the signature alone, freshness from
// `expires`, and order from `serial`, which only grows.
//
//   {"format": 1, "channel": "stable", "serial": 42, "expires": "2026-12-10T21:00:00Z",
//    "entries": [{"version": "1.0.1", "security_version": 1, "machine_class": "x86_64-kvm",
//                 "bundle": {"path": "bundles/kvm-host_1.0.1.cairnb", "size": 123,
//                            "sha256": "…64 hex…"},
//                 "published": "2026-12-03T21:00:00Z",
//                 "rollout": {"start": "2026-12-03T21:00:00Z", "max_failures": 3,
//                             "waves": [{"fraction": 0.1, "delay_seconds": 0},
//                                       {"fraction": 1.0, "delay_seconds": 86400}]},
//                 "state": "active"}]}
//
// Times are RFC 3339 UTC ("Z"), to the second.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/signer.hpp"

namespace cairn::fleet {

using TimePoint = std::chrono::sys_seconds;

inline constexpr int kChannelIndexFormat = 1;

enum class EntryState { active, paused, pulled };
std::string_view entry_state_name(EntryState state);
Expected<EntryState> parse_entry_state(std::string_view name);

struct Wave {
  double fraction = 1.0;          // of the hosts of the machine class, in (0, 1]
  std::chrono::seconds delay{0};  // after the rollout's start
  bool operator==(const Wave&) const = default;
};

struct Rollout {
  TimePoint start;
  std::vector<Wave> waves;  // fractions and delays both strictly increasing
  unsigned max_failures = 1;
  bool operator==(const Rollout&) const = default;
};

struct BundleRef {
  std::string path;  // relative to the repository's root: "bundles/<file>.cairnb"
  std::uint64_t size = 0;
  std::string sha256;  // lower-case hex
  bool operator==(const BundleRef&) const = default;
};

struct ChannelEntry {
  std::string version;
  std::uint64_t security_version = 0;
  std::string machine_class;
  BundleRef bundle;
  TimePoint published;
  Rollout rollout;
  EntryState state = EntryState::active;
  bool operator==(const ChannelEntry&) const = default;
};

struct ChannelIndex {
  int format = kChannelIndexFormat;
  std::string channel;
  std::uint64_t serial = 0;
  TimePoint expires;
  std::vector<ChannelEntry> entries;
  bool operator==(const ChannelIndex&) const = default;
};

// A channel's name is a file name in the repository: [a-z0-9][a-z0-9._-]*, at most
// kMaxChannelNameLength characters. Errc::invalid_input naming the rule broken.
inline constexpr std::size_t kMaxChannelNameLength = 64;
Status check_channel_name(std::string_view name);
// Waves non-empty, fractions in (0, 1] and delays both strictly increasing (the last fraction
// may stay below 1: a partial rollout), max_failures at least 1. The parser and the publisher
// both apply it; errors say which wave.
Status check_rollout(const Rollout& rollout);

// Strict parsing (duplicate keys, unknown keys, wrong types, a bundle path that leaves the
// repository, waves out of order, … are Errc::invalid_input naming the field).
Expected<ChannelIndex> parse_channel_index(std::string_view json);
// The bytes published and signed: deterministic for a given index.
std::string channel_index_json(const ChannelIndex& index);

std::string format_time(TimePoint when);
Expected<TimePoint> parse_time(std::string_view text);

// What a host requires of an index it fetched before it believes any of it.
struct IndexExpectations {
  TimePoint now;
  std::string channel;                       // the channel the host follows
  std::optional<std::uint64_t> last_serial;  // the highest serial this host accepted before
};

// Checks the detached signature first and parses only what it covers: the index of a channel,
// trusted but not yet checked for name, expiry or serial (a publisher re-signing its own index
// needs exactly this). Errors from `verifier` keep their code (Errc::integrity, Errc::crypto).
Expected<ChannelIndex> verify_channel_index_signature(std::string_view index_bytes,
                                                      std::string_view signature,
                                                      SignatureVerifier& verifier);

// Checks the detached signature (the same trust as bundles), then the channel's name, expiry
// and serial: a serial below `last_serial` is a replayed (older) index, Errc::integrity; an
// expired index (a frozen mirror) is refused the same way.
Expected<ChannelIndex> verify_channel_index(std::string_view index_bytes,
                                            std::string_view signature, SignatureVerifier& verifier,
                                            const IndexExpectations& expected);

}  // namespace cairn::fleet
