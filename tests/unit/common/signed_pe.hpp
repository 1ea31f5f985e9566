// Real Authenticode-signed PE images for tests: systemd's UKI stub (systemd-boot-efi, in deps/)
// signed with sbsign (sbsigntool) by a throwaway Secure Boot db key, as cairn-build signs a UKI.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "common/fs.hpp"
#include "common/pki.hpp"
#include "common/process.hpp"
#include "unit/common/test_ca.hpp"

namespace cairn::testing {

inline constexpr const char* kUkiStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

// A db key and its self-signed (CA) certificate in a temporary directory.
struct DbKey {
  TempDir dir;
  std::filesystem::path key, cert;
  X509Ptr x509;
};

inline DbKey make_db_key(const std::string& common_name) {
  auto dir = TempDir::create(std::filesystem::temp_directory_path(), "cairn-db-key-");
  REQUIRE(dir.has_value());
  auto [key, cert] = make_test_ca(common_name);
  DbKey db{std::move(*dir), {}, {}, std::move(cert)};
  db.key = db.dir.path() / "db.key";
  db.cert = db.dir.path() / "db.crt";
  REQUIRE(write_private_key_pem(db.key, key.get()));
  REQUIRE(write_certificate_pem(db.cert, db.x509.get()));
  return db;
}

// `input` signed by `db` into `output`; returns the signed bytes.
inline std::string sign_pe(const DbKey& db, const std::filesystem::path& input,
                           const std::filesystem::path& output) {
  REQUIRE(std::filesystem::exists(input));
  SystemProcessRunner runner;
  auto signed_ =
      run_step(runner, {.argv = {"sbsign", "--key", db.key.string(), "--cert", db.cert.string(),
                                 "--output", output.string(), input.string()}});
  INFO((signed_ ? "" : signed_.error().describe()));
  REQUIRE(signed_.has_value());
  auto bytes = read_file(output);
  REQUIRE(bytes.has_value());
  return *bytes;
}

}  // namespace cairn::testing
