#include "updater/esp.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "common/process.hpp"

using namespace cairn;
using namespace cairn::updater;
namespace fs = std::filesystem;

namespace {

void touch(const fs::path& path, std::string_view content = "x") {
  fs::create_directories(path.parent_path());
  REQUIRE(write_file_atomic(path, std::string(content)));
}

}  // namespace

TEST_CASE("fsck.fat's salvaged chains are recognised by name only", "[esp]") {
  CHECK(is_fsck_salvage("FSCK0000.REC"));
  CHECK(is_fsck_salvage("fsck0042.rec"));
  CHECK_FALSE(is_fsck_salvage("FSCK000.REC"));
  CHECK_FALSE(is_fsck_salvage("FSCKABCD.REC"));
  CHECK_FALSE(is_fsck_salvage("FSCK0000.REC.bak"));
  CHECK_FALSE(is_fsck_salvage("loader.conf"));
}

TEST_CASE("a mounted ESP loses the debris of interrupted writes and nothing else", "[esp]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "esp-test-");
  REQUIRE(dir);
  fs::path root = dir->path();
  for (const char* kept :
       {"loader/loader.conf", "EFI/BOOT/BOOTX64.EFI", "EFI/Linux/cairn_1.0.0.efi",
        "EFI/Linux/cairn_1.0.1+2-1.efi", "FSCK_NOTES.txt"}) {
    touch(root / kept);
  }
  for (const char* debris :
       {"FSCK0000.REC", "FSCK0001.REC", "EFI/Linux/.cairn-cairn_1.0.1+3-0.efi.tmp"}) {
    touch(root / debris);
  }
  MountedEsp esp(root);
  CHECK(esp.reclaim_debris().value() == 3);
  CHECK_FALSE(fs::exists(root / "FSCK0000.REC"));
  CHECK_FALSE(fs::exists(root / "EFI/Linux/.cairn-cairn_1.0.1+3-0.efi.tmp"));
  for (const char* kept :
       {"loader/loader.conf", "EFI/BOOT/BOOTX64.EFI", "EFI/Linux/cairn_1.0.0.efi",
        "EFI/Linux/cairn_1.0.1+2-1.efi", "FSCK_NOTES.txt"}) {
    CHECK(fs::exists(root / kept));
  }
  CHECK(esp.reclaim_debris().value() == 0);
}

TEST_CASE("an ESP in a disk image file loses the same debris, through mtools", "[esp]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "esp-image-test-");
  REQUIRE(dir);
  fs::path image = dir->path() / "esp.img", file = dir->path() / "file";
  touch(file);
  SystemProcessRunner runner;
  REQUIRE(run_step(runner, {.argv = {"mkfs.fat", "-C", image.string(), "8192"}}));
  auto mtools = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin() + 1, {"-i", image.string()});
    REQUIRE(run_step(runner, {.argv = argv, .env = {{"MTOOLS_SKIP_CHECK", "1"}}}));
  };
  mtools({"mmd", "::/EFI", "::/EFI/Linux"});
  for (const char* name : {"::/FSCK0000.REC", "::/FSCK0007.REC", "::/EFI/Linux/cairn-new.tmp",
                           "::/EFI/Linux/cairn_1.0.0.efi", "::/keep.txt"}) {
    mtools({"mcopy", file.string(), name});
  }
  ImageEsp esp(image, 0, runner);
  CHECK(esp.reclaim_debris().value() == 3);
  CHECK(esp.list_entries().value() == std::vector<std::string>{"cairn_1.0.0.efi"});
  SystemProcessRunner lister;
  auto root = lister.run({.argv = {"mdir", "-i", image.string(), "-b", "::"},
                          .env = {{"MTOOLS_SKIP_CHECK", "1"}},
                          .capture_stdout = true});
  REQUIRE(root);
  CHECK_THAT(root->stdout_text, Catch::Contains("keep.txt") && !Catch::Contains("FSCK"));
}

TEST_CASE("an ESP says how much room it has and what an entry takes, both ways", "[esp]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "esp-room-test-");
  REQUIRE(dir);
  std::string uki(300000, 'u');
  uki[7] = '\0';  // binary content comes back whole

  fs::path root = dir->path() / "mounted";
  touch(root / "EFI/Linux/cairn_1.0.0.efi", uki);
  MountedEsp mounted(root);
  CHECK(mounted.read_entry("cairn_1.0.0.efi").value() == uki);
  CHECK(mounted.entry_bytes("cairn_1.0.0.efi").value() >= uki.size());
  CHECK(mounted.free_bytes().value() > 0);
  CHECK_FALSE(mounted.entry_bytes("cairn_2.efi").has_value());

  fs::path image = dir->path() / "esp.img", file = dir->path() / "uki";
  touch(file, uki);
  SystemProcessRunner runner;
  REQUIRE(run_step(runner, {.argv = {"mkfs.fat", "-C", image.string(), "8192"}}));
  REQUIRE(run_step(runner, {.argv = {"mmd", "-i", image.string(), "::/EFI", "::/EFI/Linux"},
                            .env = {{"MTOOLS_SKIP_CHECK", "1"}}}));
  ImageEsp esp(image, 0, runner);
  auto before = esp.free_bytes();
  REQUIRE(before);
  CHECK(*before > 7 * (1 << 20));
  CHECK(*before < 8 * (1 << 20));
  REQUIRE(esp.install_entry(file, "cairn_1.0.0.efi"));
  auto taken = esp.entry_bytes("cairn_1.0.0.efi").value();
  CHECK(taken >= uki.size());
  CHECK(taken < uki.size() + 16384);  // whole clusters, no more
  CHECK(esp.free_bytes().value() <= *before - uki.size());
  CHECK(esp.read_entry("cairn_1.0.0.efi").value() == uki);
  CHECK_FALSE(esp.entry_bytes("cairn_2.efi").has_value());
}
