#include "attest/verifier/store.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "unit/attest/soft_tpm.hpp"

using namespace cairn;
using namespace cairn::attest::verifier;
using cairn::attest::testing::SoftImage;

namespace {

Store open_memory() {
  auto store = Store::open(":memory:");
  REQUIRE(store.has_value());
  return std::move(*store);
}

HostRecord host_named(std::string name) {
  return HostRecord{.name = std::move(name),
                    .ek_public = {1, 2, 3},
                    .ek_sha256 = std::string(64, 'a'),
                    .ak_public = {4, 5},
                    .ak_name = {0, 11, 6},
                    .enrolled_at = 1000};
}

ImageVersion image_of(const SoftImage& image) {
  auto version = make_image_version(image.golden(), ImageState::approved, 42);
  REQUIRE(version.has_value());
  return std::move(*version);
}

}  // namespace

TEST_CASE("hosts are stored, listed, updated and removed", "[verifier][store]") {
  auto store = open_memory();
  CHECK_FALSE(store.find_host("a")->has_value());
  auto a = host_named("a");
  a.ek_certificate = Bytes{9, 9};
  REQUIRE(store.put_host(a));
  REQUIRE(store.put_host(host_named("b")));
  auto found = store.find_host("a");
  REQUIRE(found->has_value());
  CHECK((*found)->ek_public == a.ek_public);
  CHECK((*found)->ek_certificate == a.ek_certificate);
  CHECK((*found)->ak_name == a.ak_name);
  CHECK_FALSE((*found)->last_reset_count.has_value());

  REQUIRE(store.record_quote_clock("a", 7, 123456789012ull));
  found = store.find_host("a");
  CHECK((*found)->last_reset_count == 7u);
  CHECK((*found)->last_clock == 123456789012ull);
  CHECK(store.record_quote_clock("nobody", 1, 1).error().code() == Errc::not_found);

  auto hosts = store.list_hosts();
  REQUIRE(hosts->size() == 2);
  CHECK((*hosts)[0].name == "a");
  CHECK_FALSE((*hosts)[1].ek_certificate.has_value());

  REQUIRE(store.add_nonce({.nonce = Bytes(32, 1), .host = "a", .expires_at = 99}));
  CHECK(*store.remove_host("a"));
  CHECK_FALSE(*store.remove_host("a"));
  CHECK_FALSE(store.find_nonce(Bytes(32, 1))->has_value());  // its nonces went with it
  CHECK(store.list_hosts()->size() == 1);
}

TEST_CASE("nonces are found by value and marked used", "[verifier][store]") {
  auto store = open_memory();
  Bytes nonce(32, 7);
  REQUIRE(store.add_nonce({.nonce = nonce, .host = "a", .issued_at = 10, .expires_at = 70}));
  CHECK_FALSE(store.add_nonce({.nonce = nonce, .host = "b", .expires_at = 1}));  // unique
  auto found = store.find_nonce(nonce);
  REQUIRE(found->has_value());
  CHECK((*found)->host == "a");
  CHECK((*found)->expires_at == 70);
  CHECK_FALSE((*found)->used);
  REQUIRE(store.mark_nonce_used(nonce));
  CHECK((*store.find_nonce(nonce))->used);
  CHECK_FALSE(store.find_nonce(Bytes(32, 8))->has_value());

  REQUIRE(store.purge_expired(70));  // expires_at < 70 only
  CHECK(store.find_nonce(nonce)->has_value());
  REQUIRE(store.purge_expired(71));
  CHECK_FALSE(store.find_nonce(nonce)->has_value());
}

TEST_CASE("a pending enrollment is taken once", "[verifier][store]") {
  auto store = open_memory();
  PendingEnrollment pending{.id = "abc",
                            .host = "a",
                            .ek_public = {1},
                            .ek_certificate = Bytes{2},
                            .ak_public = {3},
                            .secret_sha256 = Bytes(32, 4),
                            .expires_at = 60};
  REQUIRE(store.add_pending(pending));
  auto taken = store.take_pending("abc");
  REQUIRE(taken->has_value());
  CHECK((*taken)->secret_sha256 == pending.secret_sha256);
  CHECK((*taken)->ek_certificate == pending.ek_certificate);
  CHECK((*taken)->expires_at == 60);
  CHECK_FALSE(store.take_pending("abc")->has_value());
}

TEST_CASE("image versions: approve, re-approve, revoke", "[verifier][store]") {
  auto store = open_memory();
  auto v1 = SoftImage::create("kvm-host", "1.0.0");
  auto v2 = v1.next("1.1.0");
  REQUIRE(store.add_image(image_of(v1)));
  REQUIRE(store.add_image(image_of(v2)));
  REQUIRE(store.add_image(image_of(v1)));  // the same file again: nothing changes

  auto changed = image_of(v2.next("1.0.0"));  // 1.0.0 with other measurements
  changed.measurements.pcr12 = std::string(64, 'f');
  auto refused = store.add_image(changed);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Errc::invalid_input);

  auto images = store.list_images();
  REQUIRE(images->size() == 2);
  CHECK((*images)[0].measurements.version == "1.0.0");
  CHECK((*images)[0].loaded_at == 42);
  CHECK((*images)[0].db_certificate_der == v1.db_der());
  CHECK((*images)[0].measurements.pcr11 == v1.golden().pcr11);

  REQUIRE(store.revoke_image("kvm-host", "1.0.0"));
  CHECK(store.list_images()->at(0).state == ImageState::revoked);
  CHECK(store.list_images()->at(1).state == ImageState::approved);
  CHECK(store.revoke_image("kvm-host", "3.0").error().code() == Errc::not_found);
  auto again = store.add_image(image_of(v1));
  REQUIRE_FALSE(again);
  CHECK_THAT(again.error().message(), Catch::Contains("revoked"));
}

TEST_CASE("the database persists in one file and refuses a newer schema", "[verifier][store]") {
  auto dir = TempDir::create(std::filesystem::temp_directory_path(), "verifier-store");
  REQUIRE(dir.has_value());
  auto path = dir->path() / "verifier.db";
  {
    auto store = Store::open(path);
    REQUIRE(store.has_value());
    REQUIRE(store->put_host(host_named("kept")));
  }
  {
    auto store = Store::open(path);
    REQUIRE(store.has_value());
    CHECK(store->find_host("kept")->has_value());
  }
  {
    auto db = sql::Database::open(path);
    REQUIRE(db.has_value());
    REQUIRE(db->execute("PRAGMA user_version = 99"));
    auto mode = db->prepare("PRAGMA journal_mode");
    REQUIRE(mode.has_value());
    REQUIRE(*mode->step());
    CHECK(mode->text(0) == "wal");
  }
  auto newer = Store::open(path);
  REQUIRE_FALSE(newer);
  CHECK(newer.error().code() == Errc::invalid_input);
  CHECK_THAT(newer.error().describe(), Catch::Contains("99"));
}

TEST_CASE("a db certificate that does not match its fingerprint is refused", "[verifier][store]") {
  auto golden = SoftImage::create("kvm-host", "1.0.0").golden();
  golden.secure_boot_db_sha256 = std::string(64, '0');
  auto image = make_image_version(golden, ImageState::approved, 0);
  REQUIRE_FALSE(image);
  CHECK(image.error().code() == Errc::invalid_input);
  golden.secure_boot_db_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n";
  CHECK_FALSE(make_image_version(golden, ImageState::approved, 0));
}
