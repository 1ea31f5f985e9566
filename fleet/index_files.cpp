#include "fleet/index_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace cairn::fleet {

namespace fs = std::filesystem;

namespace {

// The new index waits here, complete and synced, while the signature is renamed in: a fixed
// name (not a pid's) so that the next writer finds it after a crash.
fs::path pending_path(const ChannelFiles& files) {
  return files.index.parent_path() / ("." + files.index.filename().string() + ".next");
}

bool is_present(const fs::path& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec));
}

Expected<ChannelIndex> verify_pair(const fs::path& index_file, const fs::path& signature_file,
                                   SignatureVerifier& trust) {
  if (!is_present(signature_file)) {
    return fail(Errc::integrity, signature_file.filename().string() + " is missing");
  }
  auto bytes = CAIRN_TRY(read_file(index_file));
  auto signature = CAIRN_TRY(read_file(signature_file));
  return verify_channel_index_signature(bytes, signature, trust);
}

Status remove_file(const fs::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail_errno("remove " + path.string(), errno);
  return {};
}

}  // namespace

Expected<RepoLock> RepoLock::acquire(const fs::path& repo) {
  auto fd = CAIRN_TRY(open_file(repo, O_RDONLY | O_DIRECTORY));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return fail(Errc::busy, "another publisher is changing the repository " + repo.string());
    }
    return fail_errno("lock " + repo.string(), errno);
  }
  return RepoLock(std::move(fd));
}

Expected<std::optional<ChannelIndex>> load_index(const ChannelFiles& files,
                                                 std::string_view channel, SignatureVerifier& trust,
                                                 bool finish_interrupted) {
  fs::path pending = pending_path(files);
  bool has_index = is_present(files.index), has_signature = is_present(files.signature);
  if (!has_index && !has_signature) {
    // A pending index without its signature never became visible: a write stopped before it.
    if (finish_interrupted) CAIRN_CHECK(remove_file(pending));
    return std::nullopt;
  }
  Expected<ChannelIndex> index =
      fail(Errc::integrity, files.index.filename().string() + " is missing beside its signature");
  if (has_index) index = verify_pair(files.index, files.signature, trust);
  if (!index && finish_interrupted && has_signature && is_present(pending)) {
    // The new signature is in place and the index it signs is waiting: the write was cut short
    // between its two renames. Finishing it is what that writer would have done; anything
    // else that fails to verify stays refused below.
    if (auto forward = verify_pair(pending, files.signature, trust)) {
      if (::rename(pending.c_str(), files.index.c_str()) != 0) {
        return fail_errno("rename " + pending.string() + " to " + files.index.string(), errno);
      }
      CAIRN_CHECK(fsync_directory(files.index.parent_path()));
      index = std::move(forward);
    }
  }
  if (!index) {
    return std::unexpected(std::move(index.error())
                               .with_context(files.index.string() +
                                             " does not verify, and is not re-signed blindly "
                                             "(restore it, or move the channel's files away)"));
  }
  if (index->channel != channel) {
    return fail(Errc::integrity, files.index.string() + " is the index of channel '" +
                                     index->channel + "', not '" + std::string(channel) + "'");
  }
  if (finish_interrupted) CAIRN_CHECK(remove_file(pending));  // a stale one: never signed
  return std::optional<ChannelIndex>(std::move(*index));
}

// The order, and why. The two files cannot change in one step, so some reader may see one new
// and one old whatever the order; the signature covers the exact bytes of the index, so such a
// reader's check fails and the host refuses the pair cleanly (Errc::integrity) and asks again at
// its next poll — it never accepts a wrong index. What the order decides is what a crash leaves:
//   1. the new index, complete and fsynced, under a hidden name (.<name>.json.next): invisible;
//   2. the new signature renamed over the old one: old index + new signature, refused;
//   3. the new index renamed over the old one: the new pair.
// The window between 2 and 3 is two back-to-back renames. A crash inside it leaves a pending
// index that the new signature verifies, which the next writer (load_index) renames into place,
// so the change completes instead of leaving a channel nobody can re-sign without force. Had the
// index gone first, a crash would leave a new index with an old signature, and the new
// signature — existing only in the dead writer's memory — would be lost.
Status write_index(const ChannelFiles& files, const SignedIndex& signed_index,
                   bool& signature_replaced) {
  signature_replaced = false;
  fs::path pending = pending_path(files);
  if (auto written = write_file_atomic(pending, signed_index.bytes); !written) {
    (void)remove_file(pending);
    return written;
  }
  if (auto written = write_file_atomic(files.signature, signed_index.signature); !written) {
    (void)remove_file(pending);
    return written;
  }
  signature_replaced = true;
  if (::rename(pending.c_str(), files.index.c_str()) != 0) {
    return fail_errno("rename " + pending.string() + " to " + files.index.string() +
                          " (the next publish finishes it; hosts refuse the channel until then)",
                      errno);
  }
  return fsync_directory(files.index.parent_path());
}

}  // namespace cairn::fleet
