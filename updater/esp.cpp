#include "updater/esp.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <utility>

#include "common/fs.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;

bool is_fsck_salvage(std::string_view name) {
  if (name.size() != 12) return false;
  auto upper = [](char c) { return static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c); };
  std::string folded;
  for (char c : name) folded += upper(c);
  return folded.starts_with("FSCK") && folded.ends_with(".REC") &&
         std::all_of(folded.begin() + 4, folded.begin() + 8,
                     [](char c) { return c >= '0' && c <= '9'; });
}

namespace {

bool is_our_temporary(std::string_view name) {
  return (name.starts_with(".cairn-") && name.ends_with(".tmp")) || name == "cairn-new.tmp";
}

}  // namespace

Expected<std::vector<std::string>> MountedEsp::list_entries() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ / "EFI/Linux", ec)) {
    names.push_back(entry.path().filename().string());
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return fail(Errc::io, "listing " + (root_ / "EFI/Linux").string() + ": " + ec.message());
  }
  return names;
}

Status MountedEsp::remove_entry(const std::string& name) {
  std::error_code ec;
  fs::remove(root_ / "EFI/Linux" / name, ec);
  if (ec) return fail(Errc::io, "removing boot entry " + name + ": " + ec.message());
  return fsync_directory(root_ / "EFI/Linux");
}

Status MountedEsp::install_entry(const fs::path& file, const std::string& name) {
  fs::path dir = root_ / "EFI/Linux";
  fs::path temp = dir / (".cairn-" + name + ".tmp");
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::copy_file(file, temp, fs::copy_options::overwrite_existing, ec);
  if (ec) return fail(Errc::io, "copying the UKI to " + temp.string() + ": " + ec.message());
  {
    auto fd = CAIRN_TRY(open_file(temp, O_RDONLY));
    if (::fsync(fd.get()) != 0) return fail_errno("fsync " + temp.string(), errno);
  }
  fs::rename(temp, dir / name, ec);
  if (ec) return fail(Errc::io, "installing boot entry " + name + ": " + ec.message());
  return fsync_directory(dir);
}

Status MountedEsp::rename_entry(const std::string& from, const std::string& to) {
  fs::path dir = root_ / "EFI/Linux";
  std::error_code ec;
  fs::rename(dir / from, dir / to, ec);
  if (ec) return fail(Errc::io, "renaming boot entry " + from + " to " + to + ": " + ec.message());
  return fsync_directory(dir);
}

Expected<std::size_t> MountedEsp::reclaim_debris() {
  std::size_t removed = 0;
  for (auto [dir, is_debris] :
       {std::pair{root_, &is_fsck_salvage}, std::pair{root_ / "EFI/Linux", &is_our_temporary}}) {
    std::error_code ec;
    std::vector<fs::path> debris;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.is_regular_file(ec) && is_debris(entry.path().filename().string())) {
        debris.push_back(entry.path());
      }
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return fail(Errc::io, "listing " + dir.string() + ": " + ec.message());
    }
    for (const auto& path : debris) {
      fs::remove(path, ec);
      if (ec) return fail(Errc::io, "removing " + path.string() + ": " + ec.message());
      ++removed;
    }
    if (!debris.empty()) CAIRN_CHECK(fsync_directory(dir));
  }
  return removed;
}

Expected<std::uint64_t> MountedEsp::free_bytes() {
  struct statvfs info {};
  if (::statvfs(root_.c_str(), &info) != 0) return fail_errno("statvfs " + root_.string(), errno);
  return std::uint64_t{info.f_bavail} * info.f_frsize;
}

Expected<std::uint64_t> MountedEsp::entry_bytes(const std::string& name) {
  struct stat st {};
  fs::path path = root_ / "EFI/Linux" / name;
  if (::stat(path.c_str(), &st) != 0) return fail_errno("stat " + path.string(), errno);
  return std::uint64_t(st.st_blocks) * 512;
}

Expected<std::string> MountedEsp::read_entry(const std::string& name) {
  return read_file(root_ / "EFI/Linux" / name);
}

Command ImageEsp::mtools(std::vector<std::string> argv) const {
  argv.insert(argv.begin() + 1, {"-i", disk_.string() + "@@" + std::to_string(offset_)});
  // LC_ALL=C: the byte counts mdir prints are parsed.
  return {.argv = std::move(argv),
          .env = {{"MTOOLS_SKIP_CHECK", "1"}, {"LC_ALL", "C"}},
          .capture_stdout = true};
}

Expected<std::vector<std::string>> ImageEsp::list_entries() { return list("::/EFI/Linux"); }

Expected<std::size_t> ImageEsp::reclaim_debris() {
  std::size_t removed = 0;
  for (auto [dir, is_debris] : {std::pair{std::string("::"), &is_fsck_salvage},
                                std::pair{std::string("::/EFI/Linux"), &is_our_temporary}}) {
    for (const auto& name : CAIRN_TRY(list(dir))) {
      if (!is_debris(name)) continue;
      CAIRN_CHECK(run_step(runner_, mtools({"mdel", dir + "/" + name}), "removing " + name));
      ++removed;
    }
  }
  return removed;
}

Expected<std::vector<std::string>> ImageEsp::list(const std::string& dir) {
  auto text = CAIRN_TRY(run_checked(runner_, mtools({"mdir", "-b", dir})));
  std::vector<std::string> names;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    auto slash = line.rfind('/');
    if (slash != std::string::npos && slash + 1 < line.size())
      names.push_back(line.substr(slash + 1));
  }
  return names;
}

Expected<std::uint64_t> ImageEsp::free_bytes() {
  // mdir ends with "  63 057 408 bytes free" (digits grouped with spaces).
  auto text = CAIRN_TRY(run_checked(runner_, mtools({"mdir", "-a", "::/"})));
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.ends_with("bytes free")) continue;
    std::string digits;
    for (char c : line) {
      if (c >= '0' && c <= '9') digits += c;
    }
    if (!digits.empty() && digits.size() < 20) return std::stoull(digits);
  }
  return fail(Errc::process, "mdir did not say how much of the ESP is free");
}

Expected<std::uint64_t> ImageEsp::entry_bytes(const std::string& name) {
  // mdu -a: "::/EFI/Linux/<name> <clusters>"; minfo: "sector size: 512 bytes" and
  // "cluster size: 4 sectors".
  auto usage = CAIRN_TRY(run_checked(runner_, mtools({"mdu", "-a", "::/EFI/Linux/" + name})));
  auto info = CAIRN_TRY(run_checked(runner_, mtools({"minfo"})));
  std::istringstream words(usage);
  std::string path;
  std::uint64_t clusters = 0;
  if (!(words >> path >> clusters)) {
    return fail(Errc::process, "mdu did not say how much room " + name + " takes");
  }
  auto number_after = [&](std::string_view label) -> std::uint64_t {
    auto at = info.find(label);
    if (at == std::string::npos) return 0;
    return std::strtoull(info.c_str() + at + label.size(), nullptr, 10);
  };
  std::uint64_t cluster = number_after("sector size:") * number_after("cluster size:");
  if (cluster == 0) return fail(Errc::process, "minfo did not give the ESP's cluster size");
  return clusters * cluster;
}

Expected<std::string> ImageEsp::read_entry(const std::string& name) {
  return run_checked(runner_, mtools({"mtype", "::/EFI/Linux/" + name}));
}

Status ImageEsp::remove_entry(const std::string& name) {
  return run_step(runner_, mtools({"mdel", "::/EFI/Linux/" + name}), "removing boot entry " + name);
}

Status ImageEsp::install_entry(const fs::path& file, const std::string& name) {
  // Same order as on a mounted ESP: a temporary name first, then the rename.
  std::string temp = "::/EFI/Linux/cairn-new.tmp";
  CAIRN_CHECK(run_step(runner_, mtools({"mcopy", "-o", file.string(), temp}),
                       "copying the UKI to the ESP"));
  return run_step(runner_, mtools({"mren", temp, "::/EFI/Linux/" + name}),
                  "installing boot entry " + name);
}

Status ImageEsp::rename_entry(const std::string& from, const std::string& to) {
  return run_step(runner_, mtools({"mren", "::/EFI/Linux/" + from, "::/EFI/Linux/" + to}),
                  "renaming boot entry " + from + " to " + to);
}

}  // namespace cairn::updater
