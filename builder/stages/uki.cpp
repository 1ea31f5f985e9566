#include "builder/stages/uki.hpp"

#include <cstdio>
#include <ctime>

#include "common/fs.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

const std::vector<std::string>& uki_section_order() {
  static const std::vector<std::string> kOrder = {".osrel", ".cmdline", ".uname", ".linux",
                                                  ".initrd"};
  return kOrder;
}

std::string slot_cmdline(const std::string& root_hash, const std::string& data_partuuid,
                         const std::string& hash_partuuid, const std::vector<std::string>& extra) {
  // systemd-veritysetup-generator opens /dev/mapper/root from these; the erofs root is
  // read-only by construction.
  std::string cmdline = "root=/dev/mapper/root rootfstype=erofs ro roothash=" + root_hash +
                        " systemd.verity_root_data=PARTUUID=" + data_partuuid +
                        " systemd.verity_root_hash=PARTUUID=" + hash_partuuid;
  for (const auto& param : extra) cmdline += " " + param;
  return cmdline;
}

Status sign_efi_binary(const fs::path& input, const fs::path& output, const fs::path& key,
                       const fs::path& cert, std::int64_t source_date_epoch,
                       ProcessRunner& runner) {
  auto epoch = static_cast<std::time_t>(source_date_epoch);
  std::tm utc{};
  ::gmtime_r(&epoch, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &utc);
  return run_step(runner,
                  {.argv = {"faketime", "-f", stamp, "sbsign", "--key", key.string(), "--cert",
                            cert.string(), "--output", output.string(), input.string()},
                   .env = {{"TZ", "UTC"}}},
                  "signing " + input.filename().string() + " for Secure Boot");
}

Status verify_efi_signature(const fs::path& path, const fs::path& cert, ProcessRunner& runner) {
  auto result = CAIRN_TRY(runner.run(
      {.argv = {"sbverify", "--cert", cert.string(), path.string()}, .capture_stdout = true}));
  if (result.exit_code != 0) {
    return fail(Errc::integrity,
                path.string() + " has no valid Secure Boot signature by " + cert.string());
  }
  return {};
}

Expected<UkiOutput> build_uki(const UkiInput& input, ProcessRunner& runner) {
  auto stub = CAIRN_TRY(with_context(read_pe(input.stub), "reading the systemd stub"));
  fs::path work = input.output.parent_path() / (".uki-" + input.output.filename().string());
  std::error_code ec;
  fs::remove_all(work, ec);
  fs::create_directories(work, ec);
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } cleanup{work};

  CAIRN_CHECK(write_file_atomic(work / "osrel", input.os_release));
  CAIRN_CHECK(write_file_atomic(work / "cmdline", input.cmdline));
  CAIRN_CHECK(write_file_atomic(work / "uname", input.uname));
  std::vector<std::pair<std::string, fs::path>> sections = {{".osrel", work / "osrel"},
                                                            {".cmdline", work / "cmdline"},
                                                            {".uname", work / "uname"},
                                                            {".linux", input.kernel},
                                                            {".initrd", input.initrd}};
  std::vector<std::uint64_t> sizes;
  for (const auto& [name, path] : sections) {
    sizes.push_back(CAIRN_TRY(with_context(cairn::file_size(path), "UKI section " + name)));
  }
  auto addresses = plan_appended_sections(stub, sizes);
  Command objcopy{.argv = {"objcopy"}};
  for (std::size_t i = 0; i < sections.size(); ++i) {
    char vma[32];
    std::snprintf(vma, sizeof vma, "0x%llx",
                  static_cast<unsigned long long>(stub.image_base + addresses[i]));
    objcopy.argv.push_back("--add-section");
    objcopy.argv.push_back(sections[i].first + "=" + sections[i].second.string());
    objcopy.argv.push_back("--change-section-vma");
    objcopy.argv.push_back(sections[i].first + "=" + vma);
  }
  objcopy.argv.push_back(input.stub.string());
  objcopy.argv.push_back((work / "unsigned.efi").string());
  CAIRN_CHECK(run_step(runner, objcopy, "assembling the UKI"));

  CAIRN_CHECK(
      set_pe_timestamp(work / "unsigned.efi", static_cast<std::uint32_t>(input.source_date_epoch)));
  auto assembled = CAIRN_TRY(read_pe(work / "unsigned.efi"));
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const PeSection* section = assembled.find(sections[i].first);
    if (!section || section->virtual_address != addresses[i] || section->virtual_size < sizes[i]) {
      return fail(Errc::internal,
                  "objcopy did not place UKI section " + sections[i].first + " where planned");
    }
  }
  fs::path signed_path = work / "signed.efi";
  CAIRN_CHECK(sign_efi_binary(work / "unsigned.efi", signed_path, input.db_key, input.db_cert,
                              input.source_date_epoch, runner));
  fs::rename(signed_path, input.output, ec);
  if (ec) return fail(Errc::io, "moving the UKI to " + input.output.string() + ": " + ec.message());
  UkiOutput output{.uki = input.output};
  output.size = CAIRN_TRY(cairn::file_size(input.output));
  output.sections = CAIRN_TRY(read_pe(input.output)).sections;
  return output;
}

}  // namespace cairn::builder
