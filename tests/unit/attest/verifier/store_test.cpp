#include "attest/verifier/store.hpp"

#include <catch2/catch.hpp>
#include <set>

#include "common/fs.hpp"
#include "unit/attest/soft_tpm.hpp"
#include "unit/attest/verifier/store_backend.hpp"

// The cases tagged [store] run on both backends (store_backend.hpp); [sqlite] ones on SQLite only.
using namespace cairn;
using namespace cairn::attest::verifier;
using namespace cairn::attest::verifier::testing;
using cairn::attest::testing::SoftImage;

namespace {

Store open_fresh() { return open_store(fresh_location()); }

HostRecord host_named(const std::string& name) {
  return HostRecord{.name = name,
                    .ek_public = {1, 2, 3},
                    .ek_sha256 = (name + std::string(64, 'a')).substr(0, 64),  // one per host
                    .ak_public = {4, 5},
                    .ak_name = {0, 11, 6},
                    .enrolled_at = 1000};
}

ImageVersion image_of(const SoftImage& image) {
  auto version = make_image_version(image.golden(), ImageState::approved, 42);
  REQUIRE(version.has_value());
  return std::move(*version);
}

std::int64_t user_version_of(const std::filesystem::path& path) {
  auto db = sql::Database::open(path.string());
  REQUIRE(db.has_value());
  auto version = db->prepare("PRAGMA user_version");
  REQUIRE(version->step().value());
  return version->integer(0);
}

// A new database with the newest schema, to compare a migrated one with.
std::string fresh_location_with_store() {
  auto location = fresh_location();
  open_store(location);
  return location;
}

// A database as cairn-verifier 1 left it: one host (with a quote clock), a nonce, a pending
// enrollment and an approved image.
void write_version_1(const std::filesystem::path& path, const SoftImage& image) {
  auto schema = read_file(std::filesystem::path(__FILE__).parent_path().parent_path() / "data" /
                          "verifier-schema-v1.sql");
  REQUIRE(schema.has_value());
  auto db = sql::Database::open(path.string());
  REQUIRE(db.has_value());
  REQUIRE(db->execute(*schema));
  REQUIRE(db->execute(
      "INSERT INTO hosts VALUES ('old', x'010203', '" + std::string(64, 'a') +
      "', x'0909', x'0405', x'000b06', 1000, 7, 123456789012);"
      "INSERT INTO nonces VALUES (x'" +
      std::string(64, '7') +
      "', 'old', 10, 70, 1);"
      "INSERT INTO pending_enrollments VALUES ('abc', 'old', x'01', NULL, x'03', x'04', 60);"));
  auto insert = db->prepare("INSERT INTO images VALUES (?, ?, ?, 'approved', 42)");
  REQUIRE(insert.has_value());
  insert->bind(1, image.golden().name).bind(2, image.golden().version);
  REQUIRE(insert->bind(3, to_json(image.golden())).run());
}

}  // namespace

TEST_CASE("hosts are stored, listed, updated and removed", "[verifier][store]") {
  auto store = open_fresh();
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
  auto store = open_fresh();
  Bytes nonce(32, 7);
  REQUIRE(store.add_nonce({.nonce = nonce, .host = "a", .issued_at = 10, .expires_at = 70}));
  CHECK_FALSE(store.add_nonce({.nonce = nonce, .host = "b", .expires_at = 1}));  // unique
  auto found = store.find_nonce(nonce);
  REQUIRE(found->has_value());
  CHECK((*found)->host == "a");
  CHECK((*found)->expires_at == 70);
  CHECK_FALSE((*found)->used);
  REQUIRE(store.claim_nonce(nonce).value());
  CHECK((*store.find_nonce(nonce))->used);
  CHECK_FALSE(store.find_nonce(Bytes(32, 8))->has_value());

  REQUIRE(store.purge_expired(70));  // expires_at < 70 only
  CHECK(store.find_nonce(nonce)->has_value());
  REQUIRE(store.purge_expired(71));
  CHECK_FALSE(store.find_nonce(nonce)->has_value());
}

TEST_CASE("a pending enrollment is taken once", "[verifier][store]") {
  auto store = open_fresh();
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
  auto store = open_fresh();
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

TEST_CASE("the database persists and refuses a newer schema", "[verifier][store]") {
  auto location = fresh_location();
  {
    auto store = open_store(location);
    REQUIRE(store.put_host(host_named("kept")));
  }
  CHECK(open_store(location).find_host("kept")->has_value());
  {
    auto db = sql::Database::open(location);
    REQUIRE(db.has_value());
    CHECK(read_schema_version(*db).value() == Store::kSchemaVersion);
    REQUIRE(db->execute("UPDATE schema_version SET version = 99"));
  }
  auto newer = Store::open(location);
  REQUIRE_FALSE(newer);
  CHECK(newer.error().code() == Errc::invalid_input);
  CHECK_THAT(newer.error().describe(), Catch::Contains("schema version 99 is newer"));
}

TEST_CASE("an SQLite file is in WAL mode and keeps user_version for older releases",
          "[verifier][sqlite]") {
  auto location = fresh_location();
  open_store(location);
  CHECK(user_version_of(location) == Store::kSchemaVersion);
  {
    auto db = sql::Database::open(location);
    auto mode = db->prepare("PRAGMA journal_mode");
    REQUIRE(*mode->step());
    CHECK(mode->text(0) == "wal");
    REQUIRE(db->execute("PRAGMA user_version = 98"));  // what a release of 2027 leaves
  }
  auto newer = Store::open(location);
  REQUIRE_FALSE(newer);
  CHECK_THAT(newer.error().describe(), Catch::Contains("98"));
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

TEST_CASE("a host's last verdict is recorded, counted and kept by put_host", "[verifier][store]") {
  auto store = open_fresh();
  for (auto name : {"a", "b", "c", "d"}) REQUIRE(store.put_host(host_named(name)));
  CHECK_FALSE(store.find_host("a").value()->last_verdict.has_value());
  REQUIRE(store.record_verdict("a", {.admitted = true, .image_version = "kvm-host 1.0", .at = 5}));
  REQUIRE(store.record_verdict("b", {.admitted = false, .at = 6}));
  REQUIRE(store.record_verdict("c", {.admitted = true, .at = 7}));
  REQUIRE(store.record_verdict("c", {.admitted = false, .image_version = "kvm-host 2", .at = 8}));
  CHECK(store.record_verdict("nobody", {}).error().code() == Errc::not_found);
  CHECK(store.record_verdict("nobody", {}, QuoteClock{}).error().code() == Errc::not_found);

  auto a = store.find_host("a").value();
  REQUIRE(a->last_verdict.has_value());
  CHECK(a->last_verdict->admitted);
  CHECK(a->last_verdict->image_version == "kvm-host 1.0");
  CHECK(a->last_verdict->at == 5);
  auto b = store.list_hosts().value().at(1);
  CHECK_FALSE(b.last_verdict->admitted);
  CHECK(b.last_verdict->image_version.empty());
  auto c = store.find_host("c").value();
  CHECK_FALSE(c->last_verdict->admitted);
  CHECK(c->last_verdict->image_version == "kvm-host 2");
  CHECK(c->last_verdict->at == 8);

  // An admitted quote's verdict carries its TPM clock, in the same statement.
  REQUIRE(store.record_verdict("d", {.admitted = true, .at = 9}, QuoteClock{4, 123456789012ull}));
  auto d = store.find_host("d").value();
  CHECK(d->last_reset_count == 4u);
  CHECK(d->last_clock == 123456789012ull);
  CHECK(d->last_verdict->at == 9);
  REQUIRE(store.record_verdict("d", {.admitted = false, .at = 10}));
  CHECK(store.find_host("d").value()->last_clock == 123456789012ull);  // kept without one
  REQUIRE(store.record_verdict("d", {.admitted = true, .at = 11}));

  auto counts = store.count_hosts_by_last_verdict();
  REQUIRE(counts.has_value());
  CHECK(counts->admitted == 2);
  CHECK(counts->denied == 2);
  CHECK(counts->none == 0);

  // put_host writes the record whole, its last verdict included.
  a->last_clock = 99;
  REQUIRE(store.put_host(*a));
  CHECK(store.find_host("a").value()->last_verdict->image_version == "kvm-host 1.0");
  auto moved = *a;
  moved.name = "e";
  moved.ek_sha256 = std::string(64, 'e');
  moved.last_verdict.reset();
  REQUIRE(store.put_host(moved));
  CHECK_FALSE(store.find_host("e").value()->last_verdict.has_value());
}

TEST_CASE("purge_expired counts the unused nonces it drops", "[verifier][store]") {
  auto store = open_fresh();
  REQUIRE(store.add_nonce({.nonce = Bytes(32, 1), .host = "a", .expires_at = 10}));
  REQUIRE(store.add_nonce({.nonce = Bytes(32, 2), .host = "a", .expires_at = 10, .used = true}));
  REQUIRE(store.add_nonce({.nonce = Bytes(32, 3), .host = "a", .expires_at = 20}));
  REQUIRE(store.add_pending({.id = "p", .host = "a", .expires_at = 10}));
  CHECK(store.purge_expired(10).value() == 0);
  CHECK(store.purge_expired(11).value() == 1);  // the used one goes uncounted
  CHECK_FALSE(store.find_nonce(Bytes(32, 2)).value().has_value());
  CHECK_FALSE(store.take_pending("p").value().has_value());
  CHECK(store.find_nonce(Bytes(32, 3)).value().has_value());
  CHECK(store.purge_expired(11).value() == 0);
  CHECK(store.purge_expired(21).value() == 1);
}

TEST_CASE("a version 1 SQLite file (the first release) migrates and keeps its data",
          "[verifier][sqlite]") {
  auto dir = TempDir::create(std::filesystem::temp_directory_path(), "verifier-migrate");
  REQUIRE(dir.has_value());
  auto old_path = dir->path() / "v1.db";
  auto image = SoftImage::create("kvm-host", "1.0.0");
  write_version_1(old_path, image);
  REQUIRE(user_version_of(old_path) == 1);
  {
    auto store = Store::open(old_path.string());
    if (!store) FAIL(store.error().describe());
    auto host = store->find_host("old").value();
    REQUIRE(host.has_value());
    CHECK(host->ek_public == Bytes{1, 2, 3});
    CHECK(host->ek_sha256 == std::string(64, 'a'));
    CHECK(host->ek_certificate == Bytes{9, 9});
    CHECK(host->ak_public == Bytes{4, 5});
    CHECK(host->ak_name == Bytes{0, 11, 6});
    CHECK(host->enrolled_at == 1000);
    CHECK(host->last_reset_count == 7u);
    CHECK(host->last_clock == 123456789012ull);
    CHECK_FALSE(host->last_verdict.has_value());
    auto nonce = store->find_nonce(Bytes(32, 0x77)).value();
    REQUIRE(nonce.has_value());
    CHECK(nonce->used);
    CHECK(nonce->expires_at == 70);
    CHECK(store->take_pending("abc").value().has_value());
    auto images = store->list_images().value();
    REQUIRE(images.size() == 1);
    CHECK(images[0].measurements.pcr11 == image.golden().pcr11);
    CHECK(store->count_hosts_by_last_verdict().value().none == 1);
    REQUIRE(store->record_verdict("old", {.admitted = true, .image_version = "x 1", .at = 9}));
  }
  CHECK(user_version_of(old_path) == Store::kSchemaVersion);
  {
    auto store = Store::open(old_path.string());  // current: opened as it is
    REQUIRE(store.has_value());
    CHECK(store->find_host("old").value()->last_verdict->image_version == "x 1");
  }
  // The migrated schema is the one a new database gets.
  auto new_path = dir->path() / "new.db";
  REQUIRE(Store::open(new_path.string()).has_value());
  CHECK(schema_of(old_path.string()) == schema_of(new_path.string()));
}

TEST_CASE("a database of the previous release (version 2) migrates and keeps its data",
          "[verifier][store]") {
  auto location = fresh_location();
  auto image = SoftImage::create("kvm-host", "1.0.0");
  {
    auto previous = Store::open(location, 2);
    if (!previous) FAIL(previous.error().describe());
    auto a = host_named("a");
    a.last_verdict = LastVerdict{.admitted = true, .image_version = "kvm-host 1.0.0", .at = 5};
    a.last_reset_count = 3;
    REQUIRE(previous->put_host(a));
    REQUIRE(previous->add_nonce({.nonce = Bytes(32, 9), .host = "a", .expires_at = 70}));
    REQUIRE(previous->add_image(image_of(image)));
    auto db = sql::Database::open(location);
    CHECK(read_schema_version(*db).value() == 2);
  }
  auto store = open_store(location);
  {
    auto db = sql::Database::open(location);
    CHECK(read_schema_version(*db).value() == Store::kSchemaVersion);
  }
  auto a = store.find_host("a").value();
  REQUIRE(a.has_value());
  CHECK(a->last_verdict->image_version == "kvm-host 1.0.0");
  CHECK(a->last_reset_count == 3u);
  CHECK(store.find_nonce(Bytes(32, 9)).value().has_value());
  CHECK(store.list_images().value().size() == 1);
  // Version 3's constraint holds on the migrated data.
  auto twin = host_named("b");
  twin.ek_sha256 = a->ek_sha256;
  CHECK(store.put_host(twin).error().code() == Errc::permission);
  CHECK(schema_of(location) == schema_of(fresh_location_with_store()));
}

TEST_CASE("a migration that fails leaves the database as it was", "[verifier][store]") {
  auto location = fresh_location();
  REQUIRE(Store::open(location, 2).has_value());
  {
    auto db = sql::Database::open(location);
    REQUIRE(db->execute("CREATE TABLE host_versions (in_the_way TEXT)"));  // version 3's table
  }
  auto before = schema_of(location);
  auto store = Store::open(location);
  REQUIRE_FALSE(store);
  CHECK_THAT(store.error().describe(), Catch::Contains("version 2 to 3"));
  auto db = sql::Database::open(location);
  CHECK(read_schema_version(*db).value() == 2);
  CHECK(schema_of(location) == before);  // the index created before the failure rolled back
}

TEST_CASE("image versions changed by another process are seen at once (the parsed cache)",
          "[verifier][store]") {
  // The service keeps its parsed versions between quotes; the CLI (or another replica) approves
  // and revokes through its own connection.
  auto location = fresh_location();
  auto service = open_store(location);
  auto cli = open_store(location);
  auto first = SoftImage::create("kvm-host", "1.0.0");
  auto second = first.next("1.0.1");
  CHECK(service.list_images()->empty());
  REQUIRE(cli.add_image(image_of(first)));
  REQUIRE(service.list_images()->size() == 1);
  REQUIRE(service.list_images()->size() == 1);  // from the cache now, the same
  REQUIRE(cli.add_image(image_of(second)));
  auto both = service.list_images().value();
  REQUIRE(both.size() == 2);
  CHECK(both[1].measurements.version == "1.0.1");
  REQUIRE(cli.revoke_image("kvm-host", "1.0.0"));
  auto after = service.list_images().value();
  REQUIRE(after.size() == 2);
  CHECK(after[0].state == ImageState::revoked);
  CHECK(after[1].state == ImageState::approved);
}
