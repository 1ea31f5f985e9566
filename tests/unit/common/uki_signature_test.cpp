#include "common/uki_signature.hpp"

#include <catch2/catch.hpp>

#include "common/authenticode.hpp"
#include "common/fs.hpp"
#include "unit/common/signed_pe.hpp"

using namespace cairn;
using namespace cairn::testing;
namespace fs = std::filesystem;

namespace {

Status check(const std::string& image, X509* db_cert) {
  return check_uki_signature({reinterpret_cast<const std::uint8_t*>(image.data()), image.size()},
                             db_cert, "uki.efi");
}

void expect_refused(const Status& status, const std::string& reason) {
  REQUIRE_FALSE(status.has_value());
  INFO(status.error().describe());
  CHECK(status.error().code() == Errc::invalid_input);
  CHECK_THAT(status.error().describe(), Catch::StartsWith("uki.efi: "));
  CHECK_THAT(status.error().describe(), Catch::Contains(reason));
}

struct Signed {
  DbKey db = make_db_key("Test db");
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-uki-signature-").value();
  std::string image = sign_pe(db, kUkiStub, dir.path() / "signed.efi");
};

}  // namespace

TEST_CASE("a UKI signed by the db key passes, from memory and from files", "[uki-signature]") {
  Signed uki;
  auto status = check(uki.image, uki.db.x509.get());
  INFO((status ? "" : status.error().describe()));
  CHECK(status.has_value());
  CHECK(check_uki_signature(uki.dir.path() / "signed.efi", uki.db.cert).has_value());
  // Signed twice (a second WIN_CERTIFICATE entry by another key): one good signature is enough,
  // as for firmware.
  DbKey other = make_db_key("Other db");
  std::string twice = sign_pe(other, uki.dir.path() / "signed.efi", uki.dir.path() / "twice.efi");
  CHECK(check(twice, uki.db.x509.get()).has_value());
  CHECK(check(twice, other.x509.get()).has_value());
}

TEST_CASE("what firmware would refuse is refused with its reason", "[uki-signature]") {
  Signed uki;
  X509* db = uki.db.x509.get();
  expect_refused(check("MZ 9 byte", db), "not a PE32+ image");
  expect_refused(check("", db), "not a PE32+ image");
  auto stub = read_file(kUkiStub);
  REQUIRE(stub.has_value());
  expect_refused(check(*stub, db), "not signed");

  DbKey other = make_db_key("Other db");
  std::string foreign = sign_pe(other, kUkiStub, uki.dir.path() / "foreign.efi");
  expect_refused(check(foreign, db), "does not verify against the db certificate /CN=Test db");

  // A byte of the first section changed after signing: the signature holds, the digest not.
  std::string tampered = uki.image;
  tampered[0x1000] = static_cast<char>(tampered[0x1000] ^ 1);  // inside .text
  expect_refused(check(tampered, db), "the image differs from what was signed");
  // Appended data would be outside the signed digest.
  expect_refused(check(uki.image + "appended", db), "does not end where");

  std::string truncated = uki.image.substr(0, uki.image.size() - 100);
  expect_refused(check(truncated, db), "truncated");
  // An entry that claims more than the table holds.
  auto table = authenticode_certificate_table(uki.image, "uki.efi");
  REQUIRE(table.has_value());
  REQUIRE(table->offset + table->size == uki.image.size());
  std::string overlong = uki.image;
  overlong[table->offset + 3] = '\x7f';  // dwLength's high byte
  expect_refused(check(overlong, db), "truncated certificate table");
  // The PKCS#7 itself damaged.
  std::string garbled = uki.image;
  garbled[table->offset + 8 + 40] = static_cast<char>(garbled[table->offset + 8 + 40] ^ 0xff);
  REQUIRE_FALSE(check(garbled, db).has_value());
}

TEST_CASE("a UKI signature naming an unknown digest algorithm is refused (tests/fuzz)",
          "[uki-signature]") {
  // As the fuzzer made it (tests/fuzz/corpus/uki_signature/leak-*): one bit of the sha256 OID in
  // digestAlgorithms, the first in the PKCS#7, flipped. PKCS7_verify then leaked the copy it makes
  // of a memory BIO (LeakSanitizer in the fuzz build); the algorithms are now checked first.
  Signed uki;
  auto table = authenticode_certificate_table(uki.image, "uki.efi");
  REQUIRE(table.has_value());
  const std::string sha256_oid("\x60\x86\x48\x01\x65\x03\x04\x02\x01", 9);
  auto at = uki.image.find(sha256_oid, table->offset);
  REQUIRE(at != std::string::npos);
  std::string unknown = uki.image;
  unknown[at + 6] = '\x44';  // 2.16.840.1.101.3.4.2.1 -> 2.16.840.1.101.3.68.2.1
  expect_refused(check(unknown, uki.db.x509.get()),
                 "the signature's digestAlgorithms are not SHA-256");
}

TEST_CASE("a missing db certificate or UKI file is named", "[uki-signature]") {
  Signed uki;
  auto missing_cert = check_uki_signature(uki.dir.path() / "signed.efi", uki.dir.path() / "no.crt");
  REQUIRE_FALSE(missing_cert.has_value());
  CHECK_THAT(missing_cert.error().describe(), Catch::Contains("no.crt"));
  auto missing_uki = check_uki_signature(uki.dir.path() / "no.efi", uki.db.cert);
  REQUIRE_FALSE(missing_uki.has_value());
  CHECK_THAT(missing_uki.error().describe(), Catch::Contains("no.efi"));
}
