// Boot entries on the ESP, behind one seam: a mounted ESP on a host (/efi), or the ESP inside a
// disk-image file reached with mtools (tests, offline preparation; the build machines cannot
// mount vfat). Entries are Boot Loader Specification type-2 files EFI/Linux/cairn_<v>[+t[-d]].efi.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/process.hpp"
#include "common/version.hpp"

namespace cairn::updater {

class Esp {
 public:
  virtual ~Esp() = default;
  // File names in EFI/Linux.
  virtual Expected<std::vector<std::string>> list_entries() = 0;
  virtual Status remove_entry(const std::string& name) = 0;
  // Writes `file` as EFI/Linux/`name` so that a crash leaves either no entry or the whole one
  // (temporary name, flush, rename, flush the directory).
  virtual Status install_entry(const std::filesystem::path& file, const std::string& name) = 0;
  // One atomic rename within EFI/Linux (boot counting and rollback change only names).
  virtual Status rename_entry(const std::string& from, const std::string& to) = 0;
  // Removes what interrupted writes left behind; returns how many files it removed. A power cut
  // while a UKI is copied leaves a lost cluster chain, which fsck.fat -a (systemd-fsck, before
  // /efi is mounted) salvages as /FSCKnnnn.REC: on an ESP only Cairn writes large files to,
  // those are pieces of UKIs, and five of them fill a 256 MiB ESP. Also our temporary files.
  virtual Expected<std::size_t> reclaim_debris() = 0;
  // Room for new files, and the room an entry takes (whole clusters): an install checks that
  // its UKI fits before it touches anything.
  virtual Expected<std::uint64_t> free_bytes() = 0;
  virtual Expected<std::uint64_t> entry_bytes(const std::string& name) = 0;
  // An entry's contents (the running image's UKI says which security version it carries).
  virtual Expected<std::string> read_entry(const std::string& name) = 0;
};

// "FSCK0000.REC": a cluster chain fsck.fat salvaged.
bool is_fsck_salvage(std::string_view name);

// The ESP mounted at `root` (e.g. /efi).
class MountedEsp final : public Esp {
 public:
  explicit MountedEsp(std::filesystem::path root) : root_(std::move(root)) {}
  Expected<std::vector<std::string>> list_entries() override;
  Status remove_entry(const std::string& name) override;
  Status install_entry(const std::filesystem::path& file, const std::string& name) override;
  Status rename_entry(const std::string& from, const std::string& to) override;
  Expected<std::size_t> reclaim_debris() override;
  Expected<std::uint64_t> free_bytes() override;
  Expected<std::uint64_t> entry_bytes(const std::string& name) override;
  Expected<std::string> read_entry(const std::string& name) override;

 private:
  std::filesystem::path root_;
};

// The FAT file system at `offset` in the disk-image file `disk`, through mtools.
class ImageEsp final : public Esp {
 public:
  ImageEsp(std::filesystem::path disk, std::uint64_t offset, ProcessRunner& runner)
      : disk_(std::move(disk)), offset_(offset), runner_(runner) {}
  Expected<std::vector<std::string>> list_entries() override;
  Status remove_entry(const std::string& name) override;
  Status install_entry(const std::filesystem::path& file, const std::string& name) override;
  Status rename_entry(const std::string& from, const std::string& to) override;
  Expected<std::size_t> reclaim_debris() override;
  Expected<std::uint64_t> free_bytes() override;
  Expected<std::uint64_t> entry_bytes(const std::string& name) override;
  Expected<std::string> read_entry(const std::string& name) override;

 private:
  Command mtools(std::vector<std::string> argv) const;
  Expected<std::vector<std::string>> list(const std::string& dir);
  std::filesystem::path disk_;
  std::uint64_t offset_;
  ProcessRunner& runner_;
};

}  // namespace cairn::updater
