#include "attest/verifier/store.hpp"

namespace cairn::attest::verifier {

namespace {

constexpr std::string_view kHostColumns =
    "name, ek_public, ek_sha256, ek_certificate, ak_public, ak_name, enrolled_at, "
    "last_reset_count, last_clock, last_verdict, last_verdict_version, last_verdict_at";

HostRecord read_host(const sql::Statement& row) {
  HostRecord host{.name = row.text(0),
                  .ek_public = row.blob(1),
                  .ek_sha256 = row.text(2),
                  .ak_public = row.blob(4),
                  .ak_name = row.blob(5),
                  .enrolled_at = row.integer(6)};
  if (!row.is_null(3)) host.ek_certificate = row.blob(3);
  if (!row.is_null(7)) host.last_reset_count = static_cast<std::uint32_t>(row.integer(7));
  if (!row.is_null(8)) host.last_clock = static_cast<std::uint64_t>(row.integer(8));
  if (!row.is_null(9)) {
    host.last_verdict = LastVerdict{.admitted = row.text(9) == verdict_result_name(true),
                                    .image_version = row.is_null(10) ? "" : row.text(10),
                                    .at = row.integer(11)};
  }
  return host;
}

Expected<ImageVersion> read_image(const sql::Statement& row) {
  auto label = row.text(0) + " " + row.text(1);
  auto measurements =
      with_context(parse_golden_measurements(row.text(2)), "stored measurements of " + label);
  if (!measurements) return std::unexpected(std::move(measurements).error());
  auto state = row.text(3) == "revoked" ? ImageState::revoked : ImageState::approved;
  return with_context(make_image_version(std::move(*measurements), state, row.integer(4)),
                      "stored measurements of " + label);
}

// Binds a host's last verdict (or NULLs) to the three parameters from `first`.
void bind_last_verdict(sql::Statement& statement, int first,
                       const std::optional<LastVerdict>& verdict) {
  if (!verdict) {
    for (int i = 0; i < 3; ++i) statement.bind_null(first + i);
    return;
  }
  statement.bind(first, verdict_result_name(verdict->admitted));
  if (verdict->image_version.empty()) {
    statement.bind_null(first + 1);
  } else {
    statement.bind(first + 1, verdict->image_version);
  }
  statement.bind(first + 2, verdict->at);
}

}  // namespace

Expected<Store> Store::open(std::string_view location, std::int64_t schema_version) {
  auto db = CAIRN_TRY(sql::Database::open(location));
  Store store(std::move(db));
  if (store.backend() == sql::Backend::sqlite) {
    // WAL: readers (the CLI listing versions) never block the service's writes.
    CAIRN_CHECK(store.db_.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;"));
  }
  CAIRN_CHECK(with_context(migrate_schema(store.db_, schema_version),
                           "database " + sql::redact_location(location)));
  return store;
}

Expected<std::optional<HostRecord>> Store::find_host(std::string_view name) {
  auto query =
      CAIRN_TRY(db_.prepare("SELECT " + std::string(kHostColumns) + " FROM hosts WHERE name = ?"));
  query.bind(1, name);
  if (!CAIRN_TRY(query.step())) return std::nullopt;
  return read_host(query);
}

Expected<std::optional<HostRecord>> Store::find_host_by_ek(std::string_view ek_sha256) {
  auto query = CAIRN_TRY(db_.prepare("SELECT " + std::string(kHostColumns) +
                                     " FROM hosts WHERE ek_sha256 = ? ORDER BY name LIMIT 1"));
  query.bind(1, ek_sha256);
  if (!CAIRN_TRY(query.step())) return std::nullopt;
  return read_host(query);
}

Expected<std::vector<HostRecord>> Store::list_hosts() {
  auto query =
      CAIRN_TRY(db_.prepare("SELECT " + std::string(kHostColumns) + " FROM hosts ORDER BY name"));
  std::vector<HostRecord> hosts;
  while (CAIRN_TRY(query.step())) hosts.push_back(read_host(query));
  return hosts;
}

Status Store::put_host(const HostRecord& host) {
  // An upsert by name, not INSERT OR REPLACE: that would also delete another host whose EK is
  // this one, where the unique index must refuse.
  auto insert = CAIRN_TRY(db_.prepare(
      "INSERT INTO hosts (" + std::string(kHostColumns) +
      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
      "ek_public = excluded.ek_public, ek_sha256 = excluded.ek_sha256, "
      "ek_certificate = excluded.ek_certificate, ak_public = excluded.ak_public, "
      "ak_name = excluded.ak_name, enrolled_at = excluded.enrolled_at, "
      "last_reset_count = excluded.last_reset_count, last_clock = excluded.last_clock, "
      "last_verdict = excluded.last_verdict, last_verdict_version = excluded.last_verdict_version, "
      "last_verdict_at = excluded.last_verdict_at"));
  insert.bind(1, host.name).bind_blob(2, host.ek_public).bind(3, host.ek_sha256);
  if (host.ek_certificate) {
    insert.bind_blob(4, *host.ek_certificate);
  } else {
    insert.bind_null(4);
  }
  insert.bind_blob(5, host.ak_public).bind_blob(6, host.ak_name).bind(7, host.enrolled_at);
  insert.bind_optional(8, host.last_reset_count).bind_optional(9, host.last_clock);
  bind_last_verdict(insert, 10, host.last_verdict);
  auto written = insert.run();
  if (written) return {};
  // The unique EK index refused it (an enrollment racing on another replica): say whose it is.
  if (auto holder = find_host_by_ek(host.ek_sha256);
      holder && *holder && (*holder)->name != host.name) {
    return fail(Errc::permission,
                "this EK (sha256 " + host.ek_sha256 + ") is enrolled as host " + (*holder)->name);
  }
  return std::unexpected(std::move(written).error());
}

Expected<bool> Store::remove_host(std::string_view name) {
  return db_.in_transaction([&]() -> Expected<bool> {
    for (auto table : {"nonces", "pending_enrollments", "host_versions"}) {
      auto drop = CAIRN_TRY(db_.prepare(std::string("DELETE FROM ") + table + " WHERE host = ?"));
      CAIRN_TRY(drop.bind(1, name).run());
    }
    auto drop = CAIRN_TRY(db_.prepare("DELETE FROM hosts WHERE name = ?"));
    return CAIRN_TRY(drop.bind(1, name).run()) > 0;
  });
}

Status Store::record_quote_clock(std::string_view host, std::uint32_t reset_count,
                                 std::uint64_t clock) {
  auto update = CAIRN_TRY(
      db_.prepare("UPDATE hosts SET last_reset_count = ?, last_clock = ? WHERE name = ?"));
  // SQLite integers are signed 64-bit; a TPM clock (ms since reset) stays far below 2^63.
  update.bind(1, std::int64_t{reset_count}).bind(2, static_cast<std::int64_t>(clock)).bind(3, host);
  if (CAIRN_TRY(update.run()) == 0) {
    return fail(Errc::not_found, "host " + std::string(host) + " is not enrolled");
  }
  return {};
}

Status Store::record_verdict(std::string_view host, const LastVerdict& verdict,
                             std::optional<QuoteClock> clock) {
  // One statement either way: a verdict is a round trip to PostgreSQL, not two.
  auto update = CAIRN_TRY(db_.prepare(
      clock ? "UPDATE hosts SET last_verdict = ?, last_verdict_version = ?, last_verdict_at = ?, "
              "last_reset_count = ?, last_clock = ? WHERE name = ?"
            : "UPDATE hosts SET last_verdict = ?, last_verdict_version = ?, last_verdict_at = ? "
              "WHERE name = ?"));
  bind_last_verdict(update, 1, verdict);
  int next = 4;
  if (clock) {
    update.bind(next++, std::int64_t{clock->reset_count});
    update.bind(next++, static_cast<std::int64_t>(clock->clock));
  }
  if (CAIRN_TRY(update.bind(next, host).run()) == 0) {
    return fail(Errc::not_found, "host " + std::string(host) + " is not enrolled");
  }
  return {};
}

Expected<HostVerdictCounts> Store::count_hosts_by_last_verdict() {
  auto query =
      CAIRN_TRY(db_.prepare("SELECT last_verdict, COUNT(*) FROM hosts GROUP BY last_verdict"));
  HostVerdictCounts counts;
  while (CAIRN_TRY(query.step())) {
    auto count = query.integer(1);
    if (query.is_null(0)) {
      counts.none += count;
    } else if (query.text(0) == verdict_result_name(true)) {
      counts.admitted += count;
    } else {
      counts.denied += count;
    }
  }
  return counts;
}

Status Store::add_pending(const PendingEnrollment& pending) {
  auto insert = CAIRN_TRY(db_.prepare(
      "INSERT INTO pending_enrollments (id, host, ek_public, ek_certificate, ak_public, "
      "secret_sha256, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  insert.bind(1, pending.id).bind(2, pending.host).bind_blob(3, pending.ek_public);
  if (pending.ek_certificate) {
    insert.bind_blob(4, *pending.ek_certificate);
  } else {
    insert.bind_null(4);
  }
  insert.bind_blob(5, pending.ak_public).bind_blob(6, pending.secret_sha256);
  insert.bind(7, pending.expires_at);
  CAIRN_TRY(insert.run());
  return {};
}

Expected<std::optional<PendingEnrollment>> Store::take_pending(std::string_view id) {
  // One statement: of two activations racing (on two replicas), only one gets the row.
  auto query = CAIRN_TRY(db_.prepare(
      "DELETE FROM pending_enrollments WHERE id = ? RETURNING id, host, ek_public, ek_certificate, "
      "ak_public, secret_sha256, expires_at"));
  query.bind(1, id);
  if (!CAIRN_TRY(query.step())) return std::nullopt;
  PendingEnrollment pending{.id = query.text(0),
                            .host = query.text(1),
                            .ek_public = query.blob(2),
                            .ak_public = query.blob(4),
                            .secret_sha256 = query.blob(5),
                            .expires_at = query.integer(6)};
  if (!query.is_null(3)) pending.ek_certificate = query.blob(3);
  return pending;  // both engines delete the row on the first step
}

Status Store::add_nonce(const NonceRecord& nonce) {
  auto insert = CAIRN_TRY(db_.prepare(
      "INSERT INTO nonces (nonce, host, issued_at, expires_at, used) VALUES (?, ?, ?, ?, ?)"));
  insert.bind_blob(1, nonce.nonce).bind(2, nonce.host).bind(3, nonce.issued_at);
  insert.bind(4, nonce.expires_at).bind(5, std::int64_t{nonce.used ? 1 : 0});
  CAIRN_TRY(insert.run());
  return {};
}

Expected<std::optional<NonceRecord>> Store::find_nonce(std::span<const std::uint8_t> nonce) {
  auto query = CAIRN_TRY(
      db_.prepare("SELECT nonce, host, issued_at, expires_at, used FROM nonces WHERE nonce = ?"));
  query.bind_blob(1, nonce);
  if (!CAIRN_TRY(query.step())) return std::nullopt;
  return NonceRecord{.nonce = query.blob(0),
                     .host = query.text(1),
                     .issued_at = query.integer(2),
                     .expires_at = query.integer(3),
                     .used = query.integer(4) != 0};
}

Expected<bool> Store::claim_nonce(std::span<const std::uint8_t> nonce) {
  auto update = CAIRN_TRY(db_.prepare("UPDATE nonces SET used = 1 WHERE nonce = ? AND used = 0"));
  return CAIRN_TRY(update.bind_blob(1, nonce).run()) == 1;
}

Status Store::record_admission(std::string_view host, std::string_view name,
                               std::string_view version, std::int64_t at) {
  auto upsert = CAIRN_TRY(db_.prepare(
      "INSERT INTO host_versions (host, name, version, first_admitted_at, last_admitted_at) "
      "VALUES (?, ?, ?, ?, ?) ON CONFLICT (host, name, version) DO UPDATE SET "
      "last_admitted_at = excluded.last_admitted_at"));
  upsert.bind(1, host).bind(2, name).bind(3, version).bind(4, at).bind(5, at);
  CAIRN_TRY(upsert.run());
  return {};
}

Expected<std::vector<VersionHost>> Store::hosts_on_version(std::string_view name,
                                                           std::string_view version) {
  // Current: no admission of the host on another version since. A denial (a replayed quote, a
  // revocation) does not take a host off the version it last proved it runs.
  auto query = CAIRN_TRY(
      db_.prepare("SELECT v.host, v.first_admitted_at, v.last_admitted_at, "
                  "CASE WHEN EXISTS (SELECT 1 FROM host_versions o WHERE o.host = v.host AND "
                  "o.last_admitted_at > v.last_admitted_at) THEN 0 ELSE 1 END "
                  "FROM host_versions v WHERE v.name = ? AND v.version = ? ORDER BY v.host"));
  query.bind(1, name).bind(2, version);
  std::vector<VersionHost> hosts;
  while (CAIRN_TRY(query.step())) {
    hosts.push_back({.host = query.text(0),
                     .first_admitted_at = query.integer(1),
                     .last_admitted_at = query.integer(2),
                     .current = query.integer(3) != 0});
  }
  return hosts;
}

Status Store::add_image(const ImageVersion& image) {
  const auto& golden = image.measurements;
  auto json = to_json(golden);
  // Ok when this version is already there, approved, with these measurements.
  auto compare_existing = [&]() -> Expected<bool> {
    auto query = CAIRN_TRY(
        db_.prepare("SELECT measurements, state FROM images WHERE name = ? AND version = ?"));
    query.bind(1, golden.name).bind(2, golden.version);
    if (!CAIRN_TRY(query.step())) return false;
    if (query.text(1) == "revoked") {
      return fail(Errc::invalid_input, image.label() +
                                           " was revoked; a revoked version stays revoked "
                                           "(build and approve a new version)");
    }
    if (query.text(0) != json) {
      return fail(Errc::invalid_input,
                  image.label() + " is already approved with other measurements");
    }
    return true;
  };
  if (CAIRN_TRY(compare_existing())) return {};
  auto insert = CAIRN_TRY(db_.prepare(
      "INSERT INTO images (name, version, measurements, state, loaded_at) VALUES (?, ?, ?, ?, ?)"));
  insert.bind(1, golden.name).bind(2, golden.version).bind(3, json);
  insert.bind(4, image_state_name(image.state)).bind(5, image.loaded_at);
  auto inserted = insert.run();
  if (inserted) return {};
  // The primary key refused it: another replica approved the same version in between.
  auto same = compare_existing();
  if (!same) return std::unexpected(std::move(same).error());
  if (*same) return {};
  return std::unexpected(std::move(inserted).error());
}

Status Store::revoke_image(std::string_view name, std::string_view version) {
  auto update =
      CAIRN_TRY(db_.prepare("UPDATE images SET state = 'revoked' WHERE name = ? AND version = ?"));
  if (CAIRN_TRY(update.bind(1, name).bind(2, version).run()) == 0) {
    return fail(Errc::not_found,
                "no image version " + std::string(name) + " " + std::string(version) + " loaded");
  }
  return {};
}

Expected<std::vector<ImageVersion>> Store::list_images() {
  // Another process (the CLI's approve and revoke) may change the table at any time: the rows'
  // identity is read every time, the measurements parsed again only when it changed.
  auto identity = CAIRN_TRY(db_.prepare(
      backend() == sql::Backend::postgresql
          ? "SELECT coalesce(string_agg(name || ' ' || version || ' ' || state || ' ' || "
            "loaded_at, '|' ORDER BY name, loaded_at, version), '') FROM images"
          : "SELECT coalesce(group_concat(name || ' ' || version || ' ' || state || ' ' || "
            "loaded_at, '|'), '') FROM (SELECT * FROM images ORDER BY name, loaded_at, version)"));
  CAIRN_TRY(identity.step());
  std::string fingerprint = identity.text(0);
  if (image_cache_ && image_cache_->fingerprint == fingerprint) return image_cache_->images;
  auto query =
      CAIRN_TRY(db_.prepare("SELECT name, version, measurements, state, loaded_at FROM images "
                            "ORDER BY name, loaded_at, version"));
  std::vector<ImageVersion> images;
  while (CAIRN_TRY(query.step())) images.push_back(CAIRN_TRY(read_image(query)));
  image_cache_ = ImageCache{.fingerprint = std::move(fingerprint), .images = images};
  return images;
}

Expected<std::int64_t> Store::purge_expired(std::int64_t before) {
  auto drop = [&](std::string_view from_where) -> Expected<int> {
    auto statement =
        CAIRN_TRY(db_.prepare("DELETE FROM " + std::string(from_where) + " expires_at < ?"));
    return statement.bind(1, before).run();
  };
  int unused = CAIRN_TRY(drop("nonces WHERE used = 0 AND"));  // apart, to count them
  CAIRN_TRY(drop("nonces WHERE"));
  CAIRN_TRY(drop("pending_enrollments WHERE"));
  return unused;
}

}  // namespace cairn::attest::verifier
