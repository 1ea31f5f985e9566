#include "builder/stages/disk_image.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <set>

#include "common/fs.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

constexpr const char* kEspType = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
constexpr const char* kRootType = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
constexpr const char* kVerityType = "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5";

// Slot A: the first root and the first verity partition.
const GptPartition* first_of_type(const GptDisk& disk, std::string_view type) {
  for (const auto& part : disk.partitions) {
    if (part.type_guid == type) return &part;
  }
  return nullptr;
}

Status place(const fs::path& source, const GptPartition& partition, const fs::path& image) {
  auto size = CAIRN_TRY(cairn::file_size(source));
  if (size > partition.size_bytes) {
    return fail(Errc::invalid_input, source.filename().string() + " (" +
                                         std::to_string(size >> 20) +
                                         " MiB) does not fit partition '" + partition.label +
                                         "' (" + std::to_string(partition.size_bytes >> 20) +
                                         " MiB): raise the size in the recipe's [disk] table");
  }
  return copy_into(source, image, partition.start_bytes);
}

}  // namespace

Status build_esp(const EspContents& contents, std::uint64_t size_bytes,
                 const std::string& volume_id, std::int64_t source_date_epoch,
                 const fs::path& output, ProcessRunner& runner) {
  std::error_code ec;
  fs::remove(output, ec);
  CAIRN_CHECK(
      run_step(runner,
               {.argv = {"mkfs.fat", "-F", "32", "-n", "ESP", "-i", volume_id, "--invariant", "-C",
                         output.string(), std::to_string(size_bytes / 1024)}},
               "formatting the ESP"));
  const std::vector<std::pair<std::string, std::string>> env = {
      {"SOURCE_DATE_EPOCH", std::to_string(source_date_epoch)}, {"MTOOLS_SKIP_CHECK", "1"}};
  std::set<std::string> directories;
  for (const auto& [target, source] : contents.files) {
    fs::path parent = fs::path(target).parent_path();
    for (fs::path dir; const auto& part : parent) {
      dir /= part;
      directories.insert(dir.string());
    }
  }
  // std::set orders parents before children.
  for (const auto& dir : directories) {
    CAIRN_CHECK(run_step(runner, {.argv = {"mmd", "-i", output.string(), "::/" + dir}, .env = env},
                         "creating ESP directory /" + dir));
  }
  for (const auto& [target, source] : contents.files) {
    CAIRN_CHECK(set_mtime(source, source_date_epoch));
    CAIRN_CHECK(
        run_step(runner,
                 {.argv = {"mcopy", "-m", "-i", output.string(), source.string(), "::/" + target},
                  .env = env},
                 "copying " + target + " to the ESP"));
  }
  return {};
}

Expected<DiskImageOutput> build_disk_image(const DiskImageInput& input, ProcessRunner& runner,
                                           Progress& progress) {
  const GptPartition* esp = first_of_type(input.disk, kEspType);
  const GptPartition* root = first_of_type(input.disk, kRootType);
  const GptPartition* verity = first_of_type(input.disk, kVerityType);
  if (!esp || !root || !verity) {
    return fail(Errc::invalid_input, "the disk layout needs an ESP, a root and a verity partition");
  }
  fs::path temp =
      input.output.parent_path() / ("." + input.output.filename().string() + ".partial");
  struct Cleanup {
    fs::path path;
    bool armed = true;
    ~Cleanup() {
      std::error_code ignored;
      if (armed) fs::remove(path, ignored);
    }
  } cleanup{temp};
  {
    auto fd = CAIRN_TRY(open_file(temp, O_WRONLY | O_CREAT | O_TRUNC));
    if (::ftruncate(fd.get(), static_cast<off_t>(input.disk.size_bytes)) != 0) {
      return fail_errno("sizing " + temp.string(), errno);
    }
  }
  progress.stage_detail("disk", "partition table");
  CAIRN_CHECK(write_gpt(temp, input.disk));

  progress.stage_detail("disk", "ESP");
  fs::path esp_file = input.output.parent_path() / ".esp.img";
  Cleanup esp_cleanup{esp_file};
  std::string volume_id = input.disk.disk_guid.substr(0, 8);
  CAIRN_CHECK(
      build_esp(input.esp, esp->size_bytes, volume_id, input.source_date_epoch, esp_file, runner));
  CAIRN_CHECK(place(esp_file, *esp, temp));
  progress.stage_detail("disk", "slot A");
  CAIRN_CHECK(place(input.root_image, *root, temp));
  CAIRN_CHECK(place(input.verity_image, *verity, temp));
  {
    auto fd = CAIRN_TRY(open_file(temp, O_RDONLY));
    if (::fsync(fd.get()) != 0) return fail_errno("fsync " + temp.string(), errno);
  }
  std::error_code ec;
  fs::rename(temp, input.output, ec);
  if (ec) return fail(Errc::io, "renaming " + temp.string() + ": " + ec.message());
  cleanup.armed = false;
  return DiskImageOutput{.image = input.output, .size = input.disk.size_bytes};
}

}  // namespace cairn::builder
