#include "disk_tools.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/fs.hpp"
#include "common/gpt.hpp"
#include "common/process.hpp"

namespace cairn::qemu {

namespace fs = std::filesystem;

namespace {

Expected<std::string> esp_image_spec(const fs::path& disk) {
  auto offset = CAIRN_TRY(partition_offset(disk, "esp"));
  return disk.string() + "@@" + std::to_string(offset);
}

Command mtools(std::vector<std::string> argv) {
  return {.argv = std::move(argv), .env = {{"MTOOLS_SKIP_CHECK", "1"}}};
}

}  // namespace

Status copy_disk(const fs::path& from, const fs::path& to) {
  SystemProcessRunner runner;
  return run_step(runner, {.argv = {"cp", "--sparse=always", from.string(), to.string()}},
                  "copying " + from.string());
}

Expected<std::uint64_t> partition_offset(const fs::path& disk, const std::string& label) {
  auto gpt = CAIRN_TRY(read_gpt(disk));
  for (const auto& partition : gpt.partitions) {
    if (partition.label == label) return partition.start_bytes;
  }
  return fail(Errc::not_found, disk.string() + " has no partition named " + label);
}

Expected<std::uint8_t> flip_byte(const fs::path& disk, std::uint64_t offset) {
  auto fd = CAIRN_TRY(open_file(disk, O_RDWR));
  std::uint8_t byte = 0;
  auto where = static_cast<off_t>(offset);
  if (::pread(fd.get(), &byte, 1, where) != 1) return fail_errno("reading " + disk.string(), errno);
  std::uint8_t flipped = static_cast<std::uint8_t>(byte ^ 0xffu);
  if (::pwrite(fd.get(), &flipped, 1, where) != 1) {
    return fail_errno("writing " + disk.string(), errno);
  }
  return byte;
}

Status replace_esp_file(const fs::path& disk, const std::string& esp_path, const fs::path& file) {
  auto spec = CAIRN_TRY(esp_image_spec(disk));
  SystemProcessRunner runner;
  return run_step(runner, mtools({"mcopy", "-o", "-i", spec, file.string(), "::/" + esp_path}),
                  "replacing " + esp_path + " on the ESP");
}

Status extract_esp_file(const fs::path& disk, const std::string& esp_path, const fs::path& to) {
  auto spec = CAIRN_TRY(esp_image_spec(disk));
  SystemProcessRunner runner;
  return run_step(runner, mtools({"mcopy", "-o", "-i", spec, "::/" + esp_path, to.string()}),
                  "reading " + esp_path + " from the ESP");
}

}  // namespace cairn::qemu
