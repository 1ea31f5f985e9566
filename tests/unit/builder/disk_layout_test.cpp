#include "builder/disk_layout.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "common/verity.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;

TEST_CASE("sizes parse with units and refuse nonsense") {
  CHECK(parse_size("512M").value() == 512ull << 20);
  CHECK(parse_size("2G").value() == 2ull << 30);
  CHECK(parse_size("4096").value() == 4096);
  CHECK_FALSE(parse_size("2T").has_value());
  CHECK_FALSE(parse_size("M").has_value());
  CHECK_FALSE(parse_size("0").has_value());
}

TEST_CASE("the shipped A/B layout with recipe overrides gives a DPS disk bound to the root hash") {
  DiskSizes sizes{.root = "512M", .verity = "32M"};
  auto layout = load_disk_layout(data_dir() / "images/ab-disk.toml", sizes);
  REQUIRE(layout.has_value());
  CHECK(layout->find("root-b")->size_bytes == 512ull << 20);
  CHECK(layout->find("esp")->size_bytes == 256ull << 20);
  Sha256Digest root{};
  for (std::size_t i = 0; i < root.size(); ++i) root[i] = static_cast<std::uint8_t>(0xa0 + i);
  auto disk = image_disk(*layout, "kvm-host", "1.2.3", root);
  REQUIRE(disk.has_value());
  REQUIRE(disk->partitions.size() == 6);
  const auto& slot_a = disk->partitions[1];
  const auto& verity_a = disk->partitions[2];
  CHECK(slot_a.label == "cairn_1.2.3");
  CHECK(slot_a.uuid == verity_data_partition_uuid(root));
  CHECK(verity_a.label == "cairn_1.2.3_verity");
  CHECK(verity_a.uuid == verity_hash_partition_uuid(root));
  CHECK(verity_a.attributes == kGptReadOnlyAttribute);
  CHECK(disk->partitions[3].label == "cairn_empty");
  CHECK(disk->partitions[5].label == "var");
  CHECK(disk->partitions[5].type_guid == "4d21b016-b534-45c2-a9fb-5c16e091fd2d");
  // Stable identities: the same image gives the same disk, another version another one.
  CHECK(image_disk(*layout, "kvm-host", "1.2.3", root)->disk_guid == disk->disk_guid);
  CHECK(image_disk(*layout, "kvm-host", "1.2.4", root)->disk_guid != disk->disk_guid);
}

TEST_CASE("layout files are checked strictly") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-layout-").value();
  auto write = [&](std::string_view text) {
    REQUIRE(write_file_atomic(dir.path() / "l.toml", text).has_value());
    return load_disk_layout(dir.path() / "l.toml", {});
  };
  auto missing = write(
      "name = \"x\"\n[[partition]]\nrole = \"esp\"\n"
      "type = \"c12a7328-f81f-11d2-ba4b-00a0c93ec93b\"\nsize = \"1M\"\n");
  REQUIRE_FALSE(missing.has_value());
  CHECK_THAT(missing.error().describe(), Catch::Contains("no 'root-a' partition"));
  auto bad_role =
      write("name = \"x\"\n[[partition]]\nrole = \"swap\"\ntype = \"x\"\nsize = \"1M\"\n");
  REQUIRE_FALSE(bad_role.has_value());
  CHECK_THAT(bad_role.error().describe(), Catch::Contains("unknown partition role 'swap'"));
  auto bad_key = write("name = \"x\"\n[[partition]]\nrole = \"esp\"\nsise = \"1M\"\n");
  REQUIRE_FALSE(bad_key.has_value());
}
