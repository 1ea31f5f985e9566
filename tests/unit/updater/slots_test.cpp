#include "updater/slots.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::updater;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMiB = 1 << 20;

// A sparse disk-image file with the given partitions (label, type), 1 MiB each.
fs::path make_disk(const TempDir& dir,
                   const std::vector<std::pair<std::string, std::string_view>>& parts) {
  GptDisk disk{.disk_guid = stable_uuid("disk")};
  std::size_t i = 0;
  for (const auto& [label, type] : parts) {
    disk.partitions.push_back({.label = label,
                               .type_guid = std::string(type),
                               .uuid = stable_uuid("part" + std::to_string(i++)),
                               .size_bytes = kMiB});
  }
  auto planned = plan_layout(disk);
  REQUIRE(planned.has_value());
  fs::path path = dir.path() / "disk.img";
  {
    auto fd = open_file(path, O_RDWR | O_CREAT | O_TRUNC);
    REQUIRE(fd.has_value());
    REQUIRE(::ftruncate(fd->get(), static_cast<off_t>(planned->size_bytes)) == 0);
  }
  REQUIRE(write_gpt(path, *planned).has_value());
  return path;
}

}  // namespace

TEST_CASE("the A/B slots are read from the GPT in table order", "[slots]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-slots-").value();
  auto disk = make_disk(dir, {{"esp", kEspType},
                              {"cairn_1.0.0", kRootType},
                              {"cairn_1.0.0_verity", kRootVerityType},
                              {"cairn_empty", kRootType},
                              {"cairn_empty_verity", kRootVerityType},
                              {"var", "4d21b016-b534-45c2-a9fb-5c16e091fd2d"}});
  auto layout = read_slot_layout(disk);
  REQUIRE(layout.has_value());
  CHECK(layout->esp.number == 1);
  CHECK(layout->a.root.number == 2);
  CHECK(layout->a.verity.number == 3);
  CHECK(layout->b.root.number == 4);
  CHECK(layout->b.verity.number == 5);
  CHECK(layout->a.version() == "1.0.0");
  CHECK(layout->b.version().empty());
  CHECK(layout->slot_with_root_uuid(layout->b.root.uuid) == 'B');
  std::string upper = layout->a.root.uuid;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(layout->slot_with_root_uuid(upper) == 'A');
  CHECK_FALSE(layout->slot_with_root_uuid("00000000-0000-0000-0000-000000000000").has_value());
  CHECK(&layout->other('A') == &layout->b);
}

TEST_CASE("a disk without two slots is refused with what is missing", "[slots]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-slots-").value();
  auto disk = make_disk(
      dir,
      {{"esp", kEspType}, {"cairn_1.0.0", kRootType}, {"cairn_1.0.0_verity", kRootVerityType}});
  auto layout = read_slot_layout(disk);
  REQUIRE_FALSE(layout.has_value());
  CHECK(layout.error().code() == Errc::invalid_input);
  CHECK_THAT(layout.error().describe(), Catch::Contains("1 root (x86-64) partitions"));
}
