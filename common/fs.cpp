#include "common/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace cairn {

namespace fs = std::filesystem;

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Expected<UniqueFd> open_file(const fs::path& path, int flags, unsigned mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return fail_errno("open " + path.string(), errno);
  return UniqueFd(fd);
}

Expected<TempDir> TempDir::create(const fs::path& parent, std::string_view prefix) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return fail(Errc::io, "create directory " + parent.string() + ": " + ec.message());
  std::string templ = (parent / (std::string(prefix) + "XXXXXX")).string();
  std::vector<char> buffer(templ.begin(), templ.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) return fail_errno("mkdtemp " + templ, errno);
  return TempDir(fs::path(buffer.data()));
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);  // best effort: a destructor cannot report
}

Expected<std::string> read_file(const fs::path& path) {
  auto fd = CAIRN_TRY(open_file(path, O_RDONLY));
  std::string contents;
  std::vector<char> buffer(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read " + path.string(), errno);
    if (n == 0) break;
    contents.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return contents;
}

static Status write_all(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("write " + path.string(), errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status fsync_directory(const fs::path& dir) {
  auto fd = CAIRN_TRY(open_file(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) != 0) return fail_errno("fsync " + dir.string(), errno);
  return {};
}

namespace {

Status write_and_rename(const fs::path& path, std::string_view contents, unsigned mode,
                        bool durable) {
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fs::path temp = dir / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()));
  {
    auto fd = CAIRN_TRY(open_file(temp, O_WRONLY | O_CREAT | O_TRUNC, mode));
    if (auto written = write_all(fd.get(), contents, temp); !written) {
      ::unlink(temp.c_str());
      return written;
    }
    if (durable && ::fsync(fd.get()) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      return fail_errno("fsync " + temp.string(), err);
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return fail_errno("rename " + temp.string() + " to " + path.string(), err);
  }
  return durable ? fsync_directory(dir) : Status{};
}

}  // namespace

Status write_file_atomic(const fs::path& path, std::string_view contents, unsigned mode) {
  return write_and_rename(path, contents, mode, /*durable=*/true);
}

Status replace_file(const fs::path& path, std::string_view contents, unsigned mode) {
  return write_and_rename(path, contents, mode, /*durable=*/false);
}

Status copy_into(const fs::path& source, const fs::path& target, std::uint64_t offset) {
  auto in = CAIRN_TRY(open_file(source, O_RDONLY));
  auto out = CAIRN_TRY(open_file(target, O_WRONLY));
  auto size = CAIRN_TRY(cairn::file_size(source));
  loff_t in_off = 0;
  auto out_off = static_cast<loff_t>(offset);
  while (static_cast<std::uint64_t>(in_off) < size) {
    ssize_t n = ::copy_file_range(in.get(), &in_off, out.get(), &out_off,
                                  size - static_cast<std::uint64_t>(in_off), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("copy " + source.string() + " into " + target.string(), errno);
    if (n == 0) return fail(Errc::io, "copy " + source.string() + ": unexpected end of file");
  }
  return {};
}

Expected<std::uint64_t> file_size(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail_errno("stat " + path.string(), errno);
  return static_cast<std::uint64_t>(st.st_size);
}

Status require_free_space(const fs::path& path, std::uint64_t bytes, std::string_view what) {
  fs::path probe = path;
  while (!probe.empty() && !fs::exists(probe)) probe = probe.parent_path();
  struct statvfs st {};
  if (::statvfs(probe.empty() ? "." : probe.c_str(), &st) != 0) {
    return fail_errno("statvfs " + probe.string(), errno);
  }
  std::uint64_t available = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  if (available < bytes) {
    return fail(Errc::no_space, "not enough disk space in " + probe.string() + " for " +
                                    std::string(what) + ": need " + std::to_string(bytes >> 20) +
                                    " MiB, have " + std::to_string(available >> 20) + " MiB");
  }
  return {};
}

Status set_mtime(const fs::path& path, std::int64_t epoch) {
  timespec times[2] = {{static_cast<time_t>(epoch), 0}, {static_cast<time_t>(epoch), 0}};
  if (::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return fail_errno("set mtime of " + path.string(), errno);
  }
  return {};
}

}  // namespace cairn
