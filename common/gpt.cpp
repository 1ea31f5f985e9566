#include "common/gpt.hpp"

#include <libfdisk/libfdisk.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>

#include "common/hash.hpp"
#include "common/verity.hpp"

namespace cairn {

namespace fs = std::filesystem;

namespace {

struct ContextDeleter {
  void operator()(fdisk_context* context) const {
    // Only an assigned device is deassigned: libfdisk asserts otherwise, and a file it could not
    // take (an empty one, found by tests/fuzz) leaves none.
    if (fdisk_get_devfd(context) >= 0) fdisk_deassign_device(context, 1);
    fdisk_unref_context(context);
  }
};
using ContextPtr = std::unique_ptr<fdisk_context, ContextDeleter>;
struct PartitionDeleter {
  void operator()(fdisk_partition* partition) const { fdisk_unref_partition(partition); }
};
using PartitionPtr = std::unique_ptr<fdisk_partition, PartitionDeleter>;
struct TableDeleter {
  void operator()(fdisk_table* table) const { fdisk_unref_table(table); }
};
using TablePtr = std::unique_ptr<fdisk_table, TableDeleter>;

std::uint64_t align_up(std::uint64_t value) {
  return (value + kAlignment - 1) / kAlignment * kAlignment;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// A disk must be there before libfdisk sees it: given a missing path, a directory or a 9-byte
// file it fails with EINVAL or worse, and older releases assert (exit 134, issue 19). A GPT needs
// at least a protective MBR, its header and one sector of entries.
constexpr std::uint64_t kSmallestGptBytes = 3 * kSectorSize;

Status check_disk_path(const fs::path& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return fail(Errc::io, path.string() + ": " + ec.message());
    }
    return fail(Errc::not_found, path.string() + " does not exist");
  }
  if (fs::is_block_file(status)) return {};
  if (!fs::is_regular_file(status)) {
    return fail(Errc::invalid_input,
                path.string() + " is neither a disk image file nor a block device");
  }
  auto size = fs::file_size(path, ec);
  if (ec) return fail(Errc::io, path.string() + ": " + ec.message());
  if (size < kSmallestGptBytes) {
    return fail(Errc::invalid_input, path.string() + " is " + std::to_string(size) +
                                         " bytes: too small to be a disk with a GPT");
  }
  return {};
}

Expected<ContextPtr> open_context(const fs::path& path, bool read_only) {
  CAIRN_CHECK(check_disk_path(path));
  ContextPtr context(fdisk_new_context());
  if (!context) return fail(Errc::internal, "fdisk_new_context failed");
  // Only list: otherwise assigning the device first probes it with libblkid for other
  // filesystems' signatures, reading 1 MiB that a reader of the GPT never looks at (most of the
  // CPU of a quiet fleet poll, bench/poll).
  if (read_only) fdisk_enable_listonly(context.get(), 1);
  if (int rc = fdisk_assign_device(context.get(), path.c_str(), read_only ? 1 : 0); rc < 0) {
    if (rc == -EINVAL) {
      return fail(Errc::invalid_input, path.string() + " cannot be read as a disk (libfdisk)");
    }
    return fail_errno("opening " + path.string() + " with libfdisk", -rc);
  }
  return context;
}

Status check(int rc, const std::string& what) {
  if (rc < 0) return fail_errno(what, -rc);
  return {};
}

}  // namespace

Status check_gpt_name(std::string_view name) {
  std::size_t units = 0;
  for (unsigned char c : name) {
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: counted with its lead byte
    units += c >= 0xF0 ? 2 : 1;        // beyond the BMP: a surrogate pair
  }
  if (units <= kGptNameUnits) return {};
  return fail(Errc::invalid_input, "partition name '" + std::string(name) + "' is " +
                                       std::to_string(units) + " UTF-16 units, a GPT name holds " +
                                       std::to_string(kGptNameUnits));
}

Expected<GptDisk> plan_layout(GptDisk disk) {
  if (disk.partitions.empty()) return fail(Errc::invalid_input, "a disk needs partitions");
  std::uint64_t offset = kAlignment;  // LBA 2048: room for the primary GPT
  std::size_t number = 1;
  for (auto& partition : disk.partitions) {
    if (partition.size_bytes == 0) {
      return fail(Errc::invalid_input, "partition '" + partition.label + "' has size 0");
    }
    partition.size_bytes = align_up(partition.size_bytes);
    partition.start_bytes = offset;
    partition.number = number++;
    offset += partition.size_bytes;
  }
  disk.size_bytes = offset + kAlignment;  // the backup GPT needs 33 sectors; keep 1 MiB
  return disk;
}

Status write_gpt(const fs::path& path, const GptDisk& disk) {
  for (const auto& part : disk.partitions) CAIRN_CHECK(check_gpt_name(part.label));
  auto context = CAIRN_TRY(open_context(path, false));
  fdisk_disable_dialogs(context.get(), 1);
  CAIRN_CHECK(
      check(fdisk_create_disklabel(context.get(), "gpt"), "creating GPT on " + path.string()));
  CAIRN_CHECK(check(fdisk_set_disklabel_id_from_string(context.get(), disk.disk_guid.c_str()),
                    "setting disk GUID " + disk.disk_guid));
  fdisk_label* label = fdisk_get_label(context.get(), "gpt");
  for (std::size_t i = 0; i < disk.partitions.size(); ++i) {
    const auto& part = disk.partitions[i];
    PartitionPtr entry(fdisk_new_partition());
    std::unique_ptr<fdisk_parttype, void (*)(fdisk_parttype*)> type(
        fdisk_label_parse_parttype(label, part.type_guid.c_str()), fdisk_unref_parttype);
    if (!type) return fail(Errc::invalid_input, "bad GPT type " + part.type_guid);
    fdisk_partition_set_partno(entry.get(), i);
    fdisk_partition_set_start(entry.get(), part.start_bytes / kSectorSize);
    fdisk_partition_set_size(entry.get(), part.size_bytes / kSectorSize);
    fdisk_partition_set_type(entry.get(), type.get());
    fdisk_partition_set_name(entry.get(), part.label.c_str());
    fdisk_partition_set_uuid(entry.get(), part.uuid.c_str());
    CAIRN_CHECK(check(fdisk_add_partition(context.get(), entry.get(), nullptr),
                      "adding partition '" + part.label + "'"));
    if (part.attributes) {
      CAIRN_CHECK(check(fdisk_gpt_set_partition_attrs(context.get(), i, part.attributes),
                        "setting attributes of '" + part.label + "'"));
    }
  }
  return check(fdisk_write_disklabel(context.get()), "writing GPT to " + path.string());
}

Expected<GptDisk> read_gpt(const fs::path& path) {
  auto context = CAIRN_TRY(open_context(path, true));
  if (!fdisk_is_labeltype(context.get(), FDISK_DISKLABEL_GPT)) {
    return fail(Errc::invalid_input, path.string() + " has no GPT partition table");
  }
  GptDisk disk;
  char* id = nullptr;
  CAIRN_CHECK(check(fdisk_get_disklabel_id(context.get(), &id),
                    "reading the disk GUID of " + path.string()));
  if (!id) return fail(Errc::invalid_input, path.string() + ": its GPT has no disk GUID");
  disk.disk_guid = lower(id);
  free(id);
  std::uint64_t sector = fdisk_get_sector_size(context.get());
  disk.size_bytes = fdisk_get_nsectors(context.get()) * sector;
  fdisk_table* raw_table = nullptr;
  CAIRN_CHECK(check(fdisk_get_partitions(context.get(), &raw_table),
                    "reading the partitions of " + path.string()));
  TablePtr table(raw_table);
  fdisk_iter* iter = fdisk_new_iter(FDISK_ITER_FORWARD);
  if (!iter) return fail(Errc::internal, "fdisk_new_iter failed");
  std::unique_ptr<fdisk_iter, void (*)(fdisk_iter*)> iter_owner(iter, fdisk_free_iter);
  fdisk_partition* entry = nullptr;
  int next = 0;
  while ((next = fdisk_table_next_partition(table.get(), iter, &entry)) == 0) {
    GptPartition part;
    part.number = fdisk_partition_get_partno(entry) + 1;
    part.start_bytes = fdisk_partition_get_start(entry) * sector;
    part.size_bytes = fdisk_partition_get_size(entry) * sector;
    if (const char* name = fdisk_partition_get_name(entry)) part.label = name;
    if (const char* uuid = fdisk_partition_get_uuid(entry)) part.uuid = lower(uuid);
    if (fdisk_parttype* type = fdisk_partition_get_type(entry)) {
      part.type_guid = lower(fdisk_parttype_get_string(type));
    }
    std::uint64_t attrs = 0;
    CAIRN_CHECK(check(fdisk_gpt_get_partition_attrs(context.get(), part.number - 1, &attrs),
                      "reading the attributes of partition " + std::to_string(part.number)));
    part.attributes = attrs;
    disk.partitions.push_back(std::move(part));
  }
  // 1 ends the table; a negative value is an error.
  CAIRN_CHECK(check(next < 0 ? next : 0, "reading the partitions of " + path.string()));
  return disk;
}

Status set_partition_identities(const fs::path& path,
                                std::span<const PartitionIdentity> identities) {
  for (const auto& identity : identities) CAIRN_CHECK(check_gpt_name(identity.label));
  auto context = CAIRN_TRY(open_context(path, false));
  fdisk_disable_dialogs(context.get(), 1);
  if (!fdisk_is_labeltype(context.get(), FDISK_DISKLABEL_GPT)) {
    return fail(Errc::invalid_input, path.string() + " has no GPT partition table");
  }
  for (const auto& identity : identities) {
    std::string what = "partition " + std::to_string(identity.number);
    PartitionPtr entry(fdisk_new_partition());
    CAIRN_CHECK(check(fdisk_partition_set_uuid(entry.get(), identity.uuid.c_str()),
                      "setting the UUID of " + what));
    CAIRN_CHECK(check(fdisk_partition_set_name(entry.get(), identity.label.c_str()),
                      "setting the name of " + what));
    CAIRN_CHECK(check(fdisk_set_partition(context.get(), identity.number - 1, entry.get()),
                      "updating " + what));
  }
  // One write for all of them: the table never names a slot half-way.
  return check(fdisk_write_disklabel(context.get()), "writing GPT to " + path.string());
}

Status set_partition_identity(const fs::path& path, std::size_t number, const std::string& uuid,
                              const std::string& label) {
  PartitionIdentity identity{.number = number, .uuid = uuid, .label = label};
  return set_partition_identities(path, std::span(&identity, 1));
}

std::string stable_uuid(std::string_view seed) {
  auto digest = sha256(seed);
  digest[6] = static_cast<std::uint8_t>((digest[6] & 0x0f) | 0x40);  // version 4
  digest[8] = static_cast<std::uint8_t>((digest[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return format_uuid(std::span<const std::uint8_t, 16>(digest.data(), 16));
}

}  // namespace cairn
