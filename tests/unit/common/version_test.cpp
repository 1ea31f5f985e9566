#include "common/version.hpp"

#include <catch2/catch.hpp>
#include <vector>

using namespace cairn;

namespace {

std::string verdict(std::string_view version) {
  auto status = check_version(version);
  return status ? "ok" : status.error().message();
}

}  // namespace

TEST_CASE("one version grammar: what boot counting, GPT names and FAT can all carry", "[version]") {
  for (const std::string& good : std::vector<std::string>{"1", "1.0.0", "2.1~rc1", "2024.11-3",
                                                          "a1", "1..2", std::string(23, '9')}) {
    INFO(good);
    CHECK(verdict(good) == "ok");
  }
  CHECK_THAT(verdict("1.0.0+3-0"), Catch::Contains("contains '+'") && Catch::Contains("boot"));
  CHECK_THAT(verdict("1.0_verity"), Catch::Contains("contains '_'"));
  CHECK_THAT(verdict("1.0-RC1"), Catch::Contains("contains 'R'") && Catch::Contains("folds case"));
  CHECK_THAT(verdict("empty"), Catch::Contains("reserved"));
  CHECK_THAT(verdict(""), Catch::Contains("empty"));
  CHECK_THAT(verdict(".1"), Catch::Contains("must start"));
  CHECK_THAT(verdict("-1"), Catch::Contains("must start"));
  CHECK_THAT(verdict("~1"), Catch::Contains("must start"));
  for (const char* bad : {"1/2", "1 0", "1\n", "1.0\xc3\xa9", "1:2", "1%2", "1\\2"}) {
    INFO(bad);
    CHECK_THAT(verdict(bad), Catch::Contains("contains"));
  }
  CHECK_THAT(verdict(std::string(24, '1')),
             Catch::Contains("24 characters long: at most 23") && Catch::Contains("GPT"));
}

TEST_CASE("the longest version's partition names fit a GPT name exactly", "[version]") {
  std::string longest(kMaxVersionLength, '7');
  CHECK(verity_partition_name(longest).size() == kGptNameUnits);
  CHECK(check_gpt_name(verity_partition_name(longest)).has_value());
  CHECK(root_partition_name("2.0") == "cairn_2.0");
  CHECK(verity_partition_name("2.0") == "cairn_2.0_verity");
}

TEST_CASE("a root partition's name gives back its version, and only a valid one", "[version]") {
  CHECK(version_of_root_partition("cairn_1.0.0") == "1.0.0");
  CHECK_FALSE(version_of_root_partition(kEmptyRootName).has_value());
  CHECK_FALSE(version_of_root_partition("cairn_1.0.0_verity").has_value());
  CHECK_FALSE(version_of_root_partition("cairn_1.0+3-0").has_value());
  CHECK_FALSE(version_of_root_partition("esp").has_value());
  CHECK_FALSE(version_of_root_partition("cairn_").has_value());
}

TEST_CASE("boot entry names are parsed exactly, never matched by prefix", "[version]") {
  auto counted = parse_boot_entry_name("cairn_1.0.0+3-0.efi");
  REQUIRE(counted.has_value());
  CHECK(counted->version == "1.0.0");
  CHECK(counted->tries_left == 3u);
  CHECK(counted->tries_done == 0u);
  CHECK_FALSE(counted->spent());
  CHECK(counted->file_name() == "cairn_1.0.0+3-0.efi");

  auto committed = parse_boot_entry_name("cairn_1.0.0.efi");
  REQUIRE(committed.has_value());
  CHECK_FALSE(committed->tries_left.has_value());
  CHECK(committed->file_name() == "cairn_1.0.0.efi");

  auto left_only = parse_boot_entry_name("cairn_1.0+2.efi");
  REQUIRE(left_only.has_value());
  CHECK(left_only->tries_left == 2u);
  CHECK_FALSE(left_only->tries_done.has_value());
  CHECK(parse_boot_entry_name("cairn_1.0+0-3.efi")->spent());
  CHECK(parse_boot_entry_name("cairn_1.0+0.efi")->spent());
  CHECK_FALSE(parse_boot_entry_name("cairn_1.0+10-0.efi")->spent());

  for (const char* not_ours :
       {"cairn_1.0+3-0+1.efi", "cairn_1.0+-0.efi", "cairn_1.0+3-.efi", "cairn_1.0+.efi",
        "cairn_1.0+99999-0.efi", "cairn_1.0+a-0.efi", "CAIRN_1.0.efi", "cairn_1.0.EFI",
        "cairn_empty.efi", "cairn_.efi", "cairn_1.0", "linux.efi", "cairn_1.0_verity.efi",
        "cairn_1.0+3-0.efi.tmp", ".cairn-cairn_1.0+3-0.efi.tmp"}) {
    INFO(not_ours);
    CHECK_FALSE(parse_boot_entry_name(not_ours).has_value());
  }
}

TEST_CASE("an entry belongs to one version: the running one is safe from look-alikes",
          "[version]") {
  // The defect: a version spelt like a counted entry name matched the running entry by prefix.
  CHECK_FALSE(entry_is_version("cairn_1.0.0+3-0.efi", "1.0.0+3-0"));
  CHECK_FALSE(entry_is_version("cairn_1.0.0+3-0.efi", "1.0"));
  CHECK_FALSE(entry_is_version("cairn_1.0.0.1.efi", "1.0.0"));
  CHECK_FALSE(entry_is_version("cairn_1.0.01+3-0.efi", "1.0.0"));
  CHECK(entry_is_version("cairn_1.0.0.efi", "1.0.0"));
  CHECK(entry_is_version("cairn_1.0.0+3-0.efi", "1.0.0"));
  CHECK(entry_is_version("cairn_1.0.0+0-3.efi", "1.0.0"));
  CHECK(new_entry_name("2.0") == "cairn_2.0+3-0.efi");
  CHECK(spent_entry_name("2.0") == "cairn_2.0+0-0.efi");
}

TEST_CASE("versions order as the UAPI version format says", "[version]") {
  // Each is older than the next.
  const std::vector<std::string> ascending = {
      "0.9",    "0.9.9", "1.0~rc1", "1.0~rc2", "1.0", "1.0-1", "1.0.0",   "1.0.1",  "1.0.9",
      "1.0.10", "1.1",   "1.1a",    "1.1b",    "2",   "10",    "2023.11", "2024.1", "2024.01.1"};
  for (std::size_t i = 0; i < ascending.size(); ++i) {
    for (std::size_t j = 0; j < ascending.size(); ++j) {
      INFO(ascending[i] << " vs " << ascending[j]);
      int want = i < j ? -1 : (i > j ? 1 : 0);
      CHECK(compare_versions(ascending[i], ascending[j]) == want);
    }
  }
  // Leading zeros do not count; equal numbers are equal.
  CHECK(compare_versions("1.01", "1.1") == 0);
  CHECK(compare_versions("1.0a", "1.0.1") < 0);  // a word before a number
}
