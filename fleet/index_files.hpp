// The files of one channel in a repository, as channel_repo reads and writes them: the lock on
// the repository, the verified reading of an index and its signature, and the order in which a
// new pair replaces the old one.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/fs.hpp"
#include "common/signer.hpp"
#include "fleet/channel_repo.hpp"

namespace cairn::fleet {

// An exclusive flock on the repository directory, held while the object lives: one publisher at
// a time, so that two never both raise serial N to N + 1. Errc::busy when another holds it.
class RepoLock {
 public:
  static Expected<RepoLock> acquire(const std::filesystem::path& repo);

 private:
  explicit RepoLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

struct SignedIndex {
  ChannelIndex index;
  std::string bytes;      // channel_index_json(index)
  std::string signature;  // over `bytes`
};

// The channel's index, its signature checked against `trust` and its name matched; nullopt when
// the channel has none. With `finish_interrupted` (only under the RepoLock) a write cut short
// between its two renames is completed first: see write_index.
Expected<std::optional<ChannelIndex>> load_index(const ChannelFiles& files,
                                                 std::string_view channel, SignatureVerifier& trust,
                                                 bool finish_interrupted);

// Replaces the pair (under the RepoLock). `signature_replaced` says afterwards whether the new
// signature was renamed in, i.e. whether a failure left the interrupted state load_index
// finishes rather than the old pair untouched.
Status write_index(const ChannelFiles& files, const SignedIndex& signed_index,
                   bool& signature_replaced);

}  // namespace cairn::fleet
