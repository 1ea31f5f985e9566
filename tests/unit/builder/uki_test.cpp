#include "builder/stages/uki.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "builder/keys.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;

namespace {
constexpr const char* kStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
}

TEST_CASE("a UKI is the stub plus its sections, deterministic and signed by db") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-uki-").value();
  SystemProcessRunner runner;
  auto keys = create_dev_pki(dir.path() / "keys", {}, runner);
  REQUIRE(keys.has_value());
  REQUIRE(write_file_atomic(dir.path() / "vmlinuz", std::string(300000, 'K')));
  REQUIRE(write_file_atomic(dir.path() / "initrd", std::string(123457, 'I')));
  UkiInput input{.stub = kStub,
                 .kernel = dir.path() / "vmlinuz",
                 .initrd = dir.path() / "initrd",
                 .os_release = "ID=debian\nIMAGE_VERSION=1\n",
                 .cmdline = slot_cmdline(std::string(64, 'a'), "u1", "u2", {"quiet"}),
                 .uname = "6.1.0-test",
                 .db_key = keys->db_key,
                 .db_cert = keys->db_cert,
                 .output = dir.path() / "a.efi",
                 .source_date_epoch = 1700000000};
  auto first = build_uki(input, runner);
  REQUIRE(first.has_value());
  input.output = dir.path() / "b.efi";
  // A second later: objcopy must take the time from SOURCE_DATE_EPOCH, not the clock.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  REQUIRE(build_uki(input, runner).has_value());
  CHECK(read_file(dir.path() / "a.efi").value() == read_file(dir.path() / "b.efi").value());

  auto pe = read_pe(dir.path() / "a.efi").value();
  auto stub = read_pe(kStub).value();
  std::uint32_t previous_end = 0;
  for (const auto& name : uki_section_order()) {
    const PeSection* section = pe.find(name);
    REQUIRE(section != nullptr);
    CHECK(section->virtual_address % stub.section_alignment == 0);
    CHECK(section->virtual_address >= previous_end);  // in order, not overlapping
    previous_end = section->virtual_address + section->virtual_size;
  }
  const PeSection* linux_section = pe.find(".linux");
  auto bytes = read_file(dir.path() / "a.efi").value();
  CHECK(bytes.substr(linux_section->raw_offset, 300000) == std::string(300000, 'K'));
  const PeSection* cmdline = pe.find(".cmdline");
  CHECK_THAT(bytes.substr(cmdline->raw_offset, cmdline->virtual_size),
             Catch::StartsWith("root=/dev/mapper/root rootfstype=erofs ro roothash=aaaa") &&
                 Catch::Contains("systemd.verity_root_data=PARTUUID=u1") &&
                 Catch::EndsWith("quiet"));

  CHECK(verify_efi_signature(dir.path() / "a.efi", keys->db_cert, runner).has_value());
  auto wrong = verify_efi_signature(dir.path() / "a.efi", dir.path() / "keys/image-ca.crt", runner);
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().code() == Errc::integrity);
}

TEST_CASE("a missing kernel is named") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-uki-").value();
  SystemProcessRunner runner;
  auto result = build_uki({.stub = kStub,
                           .kernel = dir.path() / "nope",
                           .initrd = dir.path() / "nope",
                           .output = dir.path() / "x.efi"},
                          runner);
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().describe(), Catch::Contains("UKI section .linux"));
}

TEST_CASE("plan_appended_sections aligns after the last section") {
  PeImage stub{.section_alignment = 0x1000,
               .sections = {{.name = ".text", .virtual_address = 0x1000, .virtual_size = 0x1234}}};
  auto plan = plan_appended_sections(stub, {10, 0x1000, 1});
  CHECK(plan == std::vector<std::uint32_t>{0x3000, 0x4000, 0x5000});
}
