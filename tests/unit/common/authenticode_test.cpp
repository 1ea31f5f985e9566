#include "common/authenticode.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "common/process.hpp"

using namespace cairn;
namespace fs = std::filesystem;

namespace {

// The firmware's own Authenticode code (OVMF) checks these digests end to end in the qemu test
// "the firmware event log replays…" (PCR 4); here: signing must not change them, and bad input
// must fail cleanly.

// The digest sbsign put in its signature (SpcIndirectDataContent's DigestInfo): the first 32-byte
// OCTET STRING after the SPC_INDIRECT_DATA object id in `openssl asn1parse`.
std::string signed_digest(ProcessRunner& runner, const fs::path& signed_file, const fs::path& dir) {
  fs::path signature = dir / "sig.der";
  fs::remove(signature);
  REQUIRE(run_step(runner,
                   {.argv = {"sbattach", "--detach", signature.string(), signed_file.string()}}));
  auto text = run_checked(
      runner, {.argv = {"openssl", "asn1parse", "-inform", "DER", "-in", signature.string()},
               .capture_stdout = true});
  REQUIRE(text.has_value());
  auto at = text->find("1.3.6.1.4.1.311.2.1.4");
  REQUIRE(at != std::string::npos);
  at = text->find("l=  32 prim: OCTET STRING      [HEX DUMP]:", at);
  REQUIRE(at != std::string::npos);
  std::string hex = text->substr(text->find(':', text->find("[HEX DUMP]", at)) + 1, 64);
  for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return hex;
}

}  // namespace

TEST_CASE("the Authenticode digest equals the one sbsign signs", "[authenticode]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-authenticode-");
  REQUIRE(dir.has_value());
  fs::path key = dir->path() / "k.key", cert = dir->path() / "c.crt";
  SystemProcessRunner runner;
  REQUIRE(run_step(runner, {.argv = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                     "-subj", "/CN=authenticode test", "-days", "1", "-keyout",
                                     key.string(), "-out", cert.string()}}));
  for (const char* input : {"/usr/lib/systemd/boot/efi/systemd-bootx64.efi",
                            "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"}) {
    INFO(input);
    if (!fs::exists(input)) {
      WARN(std::string(input) + " missing (systemd-boot-efi): skipped");
      continue;
    }
    fs::path signed_file = dir->path() / "signed.efi";
    REQUIRE(run_step(runner, {.argv = {"sbsign", "--key", key.string(), "--cert", cert.string(),
                                       "--output", signed_file.string(), input}}));
    // sbsign pads an image to 8 bytes before appending the certificates, and the padding is
    // hashed: compare with the digest inside its signature, not with the unsigned input.
    auto digest = authenticode_sha256(signed_file);
    REQUIRE(digest.has_value());
    CHECK(to_hex(*digest) == signed_digest(runner, signed_file, dir->path()));
    // Signing again does not change it: the certificate table is excluded.
    fs::path resigned = dir->path() / "resigned.efi";
    REQUIRE(run_step(runner, {.argv = {"sbsign", "--key", key.string(), "--cert", cert.string(),
                                       "--output", resigned.string(), signed_file.string()}}));
    auto again = authenticode_sha256(resigned);
    REQUIRE(again.has_value());
    CHECK(to_hex(*again) == to_hex(*digest));
  }
}

TEST_CASE("the Authenticode digest refuses what is not a PE32+ image", "[authenticode]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-authenticode-");
  REQUIRE(dir.has_value());
  auto write = [&](const std::string& name, std::string bytes) {
    REQUIRE(write_file_atomic(dir->path() / name, bytes));
    return dir->path() / name;
  };
  std::string mz(0x40, '\0');
  mz[0] = 'M';
  mz[1] = 'Z';
  std::string bad_offset = mz;
  bad_offset[0x3c] = '\xff';
  bad_offset[0x3d] = '\xff';
  for (const auto& path : {write("text", "hello, not a PE file\n"), write("mz-only", mz),
                           write("bad-offset", bad_offset)}) {
    auto digest = authenticode_sha256(path);
    REQUIRE_FALSE(digest.has_value());
    CHECK(digest.error().code() == Errc::invalid_input);
    CHECK_THAT(digest.error().describe(), Catch::Contains(path.string()));
  }
  if (fs::exists("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")) {
    auto whole = read_file("/usr/lib/systemd/boot/efi/systemd-bootx64.efi");
    REQUIRE(whole.has_value());
    auto truncated = write("truncated.efi", whole->substr(0, 600));
    CHECK_FALSE(authenticode_sha256(truncated).has_value());
  }
}
