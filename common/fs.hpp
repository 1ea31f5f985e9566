// File-system helpers: owned descriptors, temporary directories that clean up after themselves,
// and atomic writes (temp file, fsync, rename, fsync of the directory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace cairn {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

Expected<UniqueFd> open_file(const std::filesystem::path& path, int flags, unsigned mode = 0644);

// A directory removed (recursively) when the object dies, unless keep() was called.
class TempDir {
 public:
  // Creates `<parent>/<prefix>XXXXXX`; parent is created if missing.
  static Expected<TempDir> create(const std::filesystem::path& parent, std::string_view prefix);
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }
  void keep() { path_.clear(); }

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

Expected<std::string> read_file(const std::filesystem::path& path);

// Writes `contents` to a temp file beside `path`, fsyncs it, renames it over `path` and fsyncs
// the directory, so a crash leaves either the old or the new file, never a mix.
Status write_file_atomic(const std::filesystem::path& path, std::string_view contents,
                         unsigned mode = 0644);
// The same without the fsyncs: readers still see the old file or the new one, but a crash may
// bring the old one back. For files whose last change is worth little (the time of a routine
// check), on a path that runs often.
Status replace_file(const std::filesystem::path& path, std::string_view contents,
                    unsigned mode = 0644);

Status fsync_directory(const std::filesystem::path& dir);

// Copies all of `source` into `target` starting at byte `offset` (target must exist).
Status copy_into(const std::filesystem::path& source, const std::filesystem::path& target,
                 std::uint64_t offset);

Expected<std::uint64_t> file_size(const std::filesystem::path& path);

// Fails with Errc::no_space naming `what` when the file system holding `path` has fewer than
// `bytes` available.
Status require_free_space(const std::filesystem::path& path, std::uint64_t bytes,
                          std::string_view what);

// Sets mtime/atime of `path` (not following symlinks) to `epoch`.
Status set_mtime(const std::filesystem::path& path, std::int64_t epoch);

}  // namespace cairn
