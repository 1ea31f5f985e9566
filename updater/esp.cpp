#include "updater/esp.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <utility>

#include "common/fs.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;

bool entry_is_version(std::string_view entry, std::string_view version) {
  std::string base = "cairn_" + std::string(version);
  if (!entry.starts_with(base) || !entry.ends_with(".efi")) return false;
  std::string_view rest = entry.substr(base.size());
  return rest == ".efi" || rest.starts_with("+");
}

std::string new_entry_name(std::string_view version) {
  return "cairn_" + std::string(version) + "+3-0.efi";
}

std::string spent_entry_name(std::string_view version) {
  return "cairn_" + std::string(version) + "+0-0.efi";
}

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

Command ImageEsp::mtools(std::vector<std::string> argv) const {
  argv.insert(argv.begin() + 1, {"-i", disk_.string() + "@@" + std::to_string(offset_)});
  return {.argv = std::move(argv), .env = {{"MTOOLS_SKIP_CHECK", "1"}}, .capture_stdout = true};
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
