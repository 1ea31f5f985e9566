// The verifier's state: enrolled hosts (their EKs), pending enrollments, granted nonces, image
// versions (approvals and revocations) and the versions each host was admitted on. In one SQLite
// file (WAL) by default, or in PostgreSQL, where several verifier replicas share it: every
// change that two replicas could race on is one statement or a constraint, never a read followed
// by a write. Not thread-safe: the service holds one mutex around it. Tests open ":memory:".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "attest/verifier/records.hpp"
#include "attest/verifier/sql.hpp"
#include "attest/verifier/store_schema.hpp"

namespace cairn::attest::verifier {

// How many enrolled hosts' last verdict was each result (the metrics' host gauge).
// A host admitted on an image version (GET /v1/versions/{name}/{version}/hosts).
struct VersionHost {
  std::string host;
  std::int64_t first_admitted_at = 0;
  std::int64_t last_admitted_at = 0;
  bool current = false;  // admitted on no other version since
};

struct HostVerdictCounts {
  std::int64_t admitted = 0;
  std::int64_t denied = 0;
  std::int64_t none = 0;  // no quote since enrollment
};

class Store {
 public:
  static constexpr std::int64_t kSchemaVersion = kNewestSchemaVersion;

  // Opens or creates the database and its schema (an SQLite path, or a "postgresql://" URI),
  // migrating an older schema in one transaction. Errc::invalid_input for a database written by
  // a newer cairn-verifier, Errc::unavailable for a server that cannot be reached, Errc::busy
  // while another replica migrates it. `schema_version`: tests build older releases' databases.
  static Expected<Store> open(std::string_view location,
                              std::int64_t schema_version = kSchemaVersion);
  sql::Backend backend() const { return db_.backend(); }

  // Hosts.
  Expected<std::optional<HostRecord>> find_host(std::string_view name);
  // The host enrolled with this EK (sha256 of its TPM2B_PUBLIC, hex), if any.
  Expected<std::optional<HostRecord>> find_host_by_ek(std::string_view ek_sha256);
  Expected<std::vector<HostRecord>> list_hosts();  // by name
  // Inserts or replaces by name; Errc::permission when another host holds its EK.
  Status put_host(const HostRecord& host);
  // false when no such host; its nonces and pending enrollments go with it.
  Expected<bool> remove_host(std::string_view name);
  Status record_quote_clock(std::string_view host, std::uint32_t reset_count, std::uint64_t clock);
  // Errc::not_found; with `clock`, the quote's TPM clock too (an admitted quote's).
  Status record_verdict(std::string_view host, const LastVerdict& verdict,
                        std::optional<QuoteClock> clock = std::nullopt);
  Expected<HostVerdictCounts> count_hosts_by_last_verdict();

  // Pending enrollments: taken (removed) on the first activation attempt, right or wrong.
  Status add_pending(const PendingEnrollment& pending);
  Expected<std::optional<PendingEnrollment>> take_pending(std::string_view id);

  // Nonces.
  Status add_nonce(const NonceRecord& nonce);
  Expected<std::optional<NonceRecord>> find_nonce(std::span<const std::uint8_t> nonce);
  // Marks it used; false when it already was (another quote spent it, maybe on another replica).
  Expected<bool> claim_nonce(std::span<const std::uint8_t> nonce);

  // The history of admitted versions: when `host` was first and last admitted on an image.
  Status record_admission(std::string_view host, std::string_view name, std::string_view version,
                          std::int64_t at);
  // The hosts ever admitted on name/version, by name; `current` unless admitted on another since.
  Expected<std::vector<VersionHost>> hosts_on_version(std::string_view name,
                                                      std::string_view version);

  // Image versions. Adding a version already loaded is a no-op when its measurements are the
  // same and it is approved; Errc::invalid_input when they differ or it was revoked (revocation
  // is final: build a new version).
  Status add_image(const ImageVersion& image);
  Status revoke_image(std::string_view name, std::string_view version);  // Errc::not_found
  Expected<std::vector<ImageVersion>> list_images();                     // by name, then load time

  // Runs `body` (calls on this store) in one transaction: one commit for several writes.
  template <class Body>
  auto in_transaction(Body&& body) {
    return db_.in_transaction(std::forward<Body>(body));
  }

  // Drops pending enrollments and nonces that expired before `before` (unix seconds); the number
  // of those nonces that were never used.
  Expected<std::int64_t> purge_expired(std::int64_t before);

 private:
  explicit Store(sql::Database db) : db_(std::move(db)) {}
  // Parsed image versions, kept while the table's rows stay the same: parsing every version's
  // measurements and certificate for each quote took 40% of a verdict's time.
  struct ImageCache {
    std::string fingerprint;  // name, version, state, load time of every row
    std::vector<ImageVersion> images;
  };

  sql::Database db_;
  std::optional<ImageCache> image_cache_;
};

}  // namespace cairn::attest::verifier
