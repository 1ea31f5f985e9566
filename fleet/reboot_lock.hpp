// The fleet lock: how many hosts of a group may be away (rebooting into an update, or back out
// of one) at the same time. A host takes a place before such a reboot and gives it back once it
// reached steady state again (its update committed, or its rollback boot came up).
//
// Two kinds, one interface:
//   - etcd_reboot_lock: a counting semaphore kept in the fleet store, as CoreOS's locksmith and
//     airlock keep theirs: the document semaphores/<group> = {max, holders: [{id, since,
//     version}]}, changed only by compare-and-swap transactions. Each holder also owns
//     semaphore-holders/<group>/<id> under an etcd lease of the lock's TTL, written in the same
//     transaction: a holder whose key expired (a host that died holding its place) is dropped
//     by the next host that asks.
//   - fleetlock_reboot_lock: a FleetLock server (airlock, or any other) over HTTP.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "fleet/etcd_client.hpp"

namespace cairn::fleet {

struct SemaphoreHolder {
  std::string id;       // the machine-id
  std::string since;    // RFC 3339
  std::string version;  // what it reboots into
  bool operator==(const SemaphoreHolder&) const = default;
};

struct Semaphore {
  unsigned max = 1;
  std::vector<SemaphoreHolder> holders;
  bool operator==(const Semaphore&) const = default;
};

// Strict, as the store's other records (fleet_store.hpp): `max` at least 1, holders unique.
Expected<Semaphore> parse_semaphore(std::string_view json);
std::string semaphore_json(const Semaphore& semaphore);

struct LockRequest {
  std::string id;     // the machine-id
  std::string group;  // [fleet] group
  std::string version;
};

struct LockAnswer {
  bool granted = false;
  std::string message;  // granted: the place taken; refused: who holds the places
};

class RebootLock {
 public:
  virtual ~RebootLock() = default;
  // Takes a place for `request.id`, or confirms the one it holds (the call is idempotent, and
  // renews the place's TTL). Refused is an answer, not an error; an error means the lock could
  // not be asked, and the caller does not reboot.
  virtual Expected<LockAnswer> acquire(const LockRequest& request) = 0;
  // Gives the place back; holding none is no error.
  virtual Status release(const LockRequest& request) = 0;
};

// The semaphore's keys, for the CLI and the tests.
std::string semaphore_key(const std::string& fleet, const std::string& group);
std::string holders_prefix(const std::string& fleet, const std::string& group);

struct EtcdLockOptions {
  std::string fleet = "default";
  std::chrono::seconds ttl{3600};    // a place not renewed for this long is freed
  unsigned default_max = 1;          // a group without a semaphore yet
  std::function<std::string()> now;  // RFC 3339; the system clock when empty
};

// `client` must outlive the lock.
std::unique_ptr<RebootLock> etcd_reboot_lock(EtcdClient& client, EtcdLockOptions options);

// A group's semaphore with its expired holders marked, for `cairn-fleet locks`.
struct GroupLock {
  std::string group;
  Semaphore semaphore;
  std::vector<std::string> expired;  // holders whose TTL ran out (dropped at the next acquire)
  std::int64_t revision = 0;         // the document's mod_revision
};
Expected<std::vector<GroupLock>> list_group_locks(EtcdClient& client, const std::string& fleet);

// Operator verbs. `set_semaphore_max` creates the group's semaphore when it has none.
Status set_semaphore_max(EtcdClient& client, const std::string& fleet, const std::string& group,
                         unsigned max);
// Frees `host`'s place in every group where it holds one; returns those groups.
Expected<std::vector<std::string>> unlock_host(EtcdClient& client, const std::string& fleet,
                                               const std::string& host);

// FleetLock (https://coreos.github.io/zincati/development/fleetlock/protocol/): POST
// <base>/v1/pre-reboot and <base>/v1/steady-state with the header `fleet-lock-protocol: true`
// and the body {"client_params": {"id", "group"}}; 200 grants, any other status refuses with
// the server's {"kind", "value"}.
struct FleetLockOptions {
  std::string base_url;
  std::filesystem::path ca_file;
  std::chrono::milliseconds timeout{10000};
};
Expected<std::unique_ptr<RebootLock>> fleetlock_reboot_lock(FleetLockOptions options);

}  // namespace cairn::fleet
