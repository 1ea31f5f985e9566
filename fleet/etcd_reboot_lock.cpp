// The fleet lock as a semaphore document in etcd (reboot_lock.hpp). Every change is one
// transaction that compares the document's mod_revision: two hosts that read the same document
// cannot both take its last place, and the document at every revision of etcd's history holds
// at most `max` holders (the tests read that history back).
#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "fleet/channel_index.hpp"
#include "fleet/etcd_json.hpp"
#include "fleet/reboot_lock.hpp"

namespace cairn::fleet {
namespace {

// Enough for every host of a busy group to get its turn at a contended document; a caller that
// still loses gets Errc::busy and asks again at its next poll.
constexpr int kAttempts = 16;

std::string utc_now() {
  return format_time(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
}

std::string holder_key(const std::string& fleet, const std::string& group, const std::string& id) {
  return holders_prefix(fleet, group) + id;
}

// The group's semaphore as etcd holds it now, its expired holders dropped.
struct Current {
  Semaphore semaphore;
  std::int64_t revision = 0;  // 0: no document yet
  std::vector<std::string> expired;
  std::map<std::string, std::int64_t> leases;  // live holder → its lease
};

Expected<Current> read_current(EtcdClient& client, const std::string& fleet,
                               const std::string& group, unsigned default_max) {
  Current current{.semaphore = {.max = default_max}};
  std::string key = semaphore_key(fleet, group);
  if (auto kv = CAIRN_TRY(client.get(key))) {
    auto parsed = parse_semaphore(kv->value);
    if (!parsed) {
      return std::unexpected(std::move(parsed.error()).with_context("the fleet lock " + key));
    }
    current.semaphore = std::move(*parsed);
    current.revision = kv->mod_revision;
  }
  std::string prefix = holders_prefix(fleet, group);
  for (const auto& kv : CAIRN_TRY(client.get_prefix(prefix))) {
    current.leases[kv.key.substr(prefix.size())] = kv.lease;
  }
  std::erase_if(current.semaphore.holders, [&](const SemaphoreHolder& holder) {
    if (current.leases.contains(holder.id)) return false;
    current.expired.push_back(holder.id);
    return true;
  });
  return current;
}

std::string holders_text(const Semaphore& semaphore) {
  std::string text;
  for (const auto& holder : semaphore.holders) {
    if (!text.empty()) text += ", ";
    text += holder.id + " (since " + holder.since +
            (holder.version.empty() ? "" : ", for " + holder.version) + ")";
  }
  return text;
}

// Writes `semaphore` if the document is still at `current.revision`, with the extra writes.
Expected<bool> replace(EtcdClient& client, const std::string& key, const Current& current,
                       const Semaphore& semaphore, std::vector<EtcdClient::Write> writes) {
  writes.insert(writes.begin(), EtcdClient::Put{.key = key, .value = semaphore_json(semaphore)});
  return client.write_if(key, current.revision, writes);
}

class EtcdRebootLock final : public RebootLock {
 public:
  EtcdRebootLock(EtcdClient& client, EtcdLockOptions options)
      : client_(client), options_(std::move(options)) {
    if (!options_.now) options_.now = utc_now;
  }

  Expected<LockAnswer> acquire(const LockRequest& request) override {
    CAIRN_CHECK(check_names(request));
    std::string key = semaphore_key(options_.fleet, request.group);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      auto current =
          CAIRN_TRY(read_current(client_, options_.fleet, request.group, options_.default_max));
      Semaphore next = current.semaphore;
      auto mine = std::ranges::find(next.holders, request.id, &SemaphoreHolder::id);
      if (mine != next.holders.end() && current.expired.empty()) {
        // Already a holder (a retried reboot, or the rollback after a failed window).
        auto left = CAIRN_TRY(client_.keep_alive(current.leases[request.id]));
        if (left.count() > 0) {
          return LockAnswer{.granted = true,
                            .message =
                                "holds its place in the fleet lock of "
                                "group " +
                                request.group};
        }
        continue;  // expired between the two reads: the next read drops it
      }
      if (mine == next.holders.end()) {
        if (next.holders.size() >= next.max) {
          return LockAnswer{.message = "the fleet lock of group " + request.group + " is full (" +
                                       std::to_string(next.max) + " of " +
                                       std::to_string(next.max) + "): " + holders_text(next)};
        }
        next.holders.push_back(
            {.id = request.id, .since = options_.now(), .version = request.version});
      }
      // A new place, or the document rewritten without the expired holders: the place's key is
      // (re)written under a fresh lease in the same transaction.
      std::int64_t lease = CAIRN_TRY(client_.grant_lease(options_.ttl));
      std::vector<EtcdClient::Write> writes{EtcdClient::Put{
          .key = holder_key(options_.fleet, request.group, request.id), .lease = lease}};
      for (const auto& id : current.expired) {
        if (id == request.id) continue;  // rewritten above: one transaction names a key once
        writes.push_back(EtcdClient::Delete{holder_key(options_.fleet, request.group, id)});
      }
      if (CAIRN_TRY(replace(client_, key, current, next, std::move(writes)))) {
        if (auto old = current.leases.find(request.id); old != current.leases.end()) {
          (void)client_.revoke_lease(old->second);  // its key now lives under `lease`
        }
        return LockAnswer{.granted = true,
                          .message = "took a place in the fleet lock of group " + request.group +
                                     " (" + std::to_string(next.holders.size()) + " of " +
                                     std::to_string(next.max) + ")"};
      }
      (void)client_.revoke_lease(lease);  // another host came first: read again
    }
    return fail(Errc::busy, "the fleet lock of group " + request.group + " changed under " +
                                std::to_string(kAttempts) + " attempts in a row");
  }

  Status release(const LockRequest& request) override {
    CAIRN_CHECK(check_names(request));
    CAIRN_CHECK(free_place(client_, options_.fleet, request.group, request.id));
    return {};
  }

  // Drops `id` from the group's semaphore; false when it held no place there.
  static Expected<bool> free_place(EtcdClient& client, const std::string& fleet,
                                   const std::string& group, const std::string& id) {
    std::string key = semaphore_key(fleet, group);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      auto current = CAIRN_TRY(read_current(client, fleet, group, 1));
      if (current.revision == 0) return false;
      Semaphore next = current.semaphore;
      bool held = std::erase_if(next.holders, [&](const auto& h) { return h.id == id; }) > 0;
      if (!held && current.expired.empty()) {
        CAIRN_CHECK(client.remove(holder_key(fleet, group, id)));
        return false;
      }
      std::vector<EtcdClient::Write> writes{EtcdClient::Delete{holder_key(fleet, group, id)}};
      for (const auto& expired : current.expired) {
        if (expired == id) continue;  // deleted above: one transaction names a key once
        writes.push_back(EtcdClient::Delete{holder_key(fleet, group, expired)});
      }
      if (CAIRN_TRY(replace(client, key, current, next, std::move(writes)))) {
        if (auto lease = current.leases.find(id); lease != current.leases.end()) {
          (void)client.revoke_lease(lease->second);
        }
        return held;
      }
    }
    return fail(Errc::busy, "the fleet lock of group " + group + " changed under " +
                                std::to_string(kAttempts) + " attempts in a row");
  }

 private:
  Status check_names(const LockRequest& request) const {
    CAIRN_CHECK(check_key_segment("fleet name", options_.fleet));
    CAIRN_CHECK(check_key_segment("group", request.group));
    return check_key_segment("host id", request.id);
  }

  EtcdClient& client_;
  EtcdLockOptions options_;
};

}  // namespace

std::string semaphore_key(const std::string& fleet, const std::string& group) {
  return "/cairn/" + fleet + "/semaphores/" + group;
}

std::string holders_prefix(const std::string& fleet, const std::string& group) {
  return "/cairn/" + fleet + "/semaphore-holders/" + group + "/";
}

std::unique_ptr<RebootLock> etcd_reboot_lock(EtcdClient& client, EtcdLockOptions options) {
  return std::make_unique<EtcdRebootLock>(client, std::move(options));
}

Expected<std::vector<GroupLock>> list_group_locks(EtcdClient& client, const std::string& fleet) {
  CAIRN_CHECK(check_key_segment("fleet name", fleet));
  std::string prefix = "/cairn/" + fleet + "/semaphores/";
  std::vector<GroupLock> out;
  for (const auto& kv : CAIRN_TRY(client.get_prefix(prefix))) {
    std::string group = kv.key.substr(prefix.size());
    auto semaphore = parse_semaphore(kv.value);
    if (!semaphore) {
      return std::unexpected(std::move(semaphore.error()).with_context("the fleet lock " + kv.key));
    }
    std::set<std::string> live;
    for (const auto& holder : CAIRN_TRY(client.get_prefix(holders_prefix(fleet, group)))) {
      live.insert(holder.key.substr(holders_prefix(fleet, group).size()));
    }
    GroupLock lock{.group = group, .semaphore = std::move(*semaphore), .revision = kv.mod_revision};
    for (const auto& holder : lock.semaphore.holders) {
      if (!live.contains(holder.id)) lock.expired.push_back(holder.id);
    }
    out.push_back(std::move(lock));
  }
  return out;
}

Status set_semaphore_max(EtcdClient& client, const std::string& fleet, const std::string& group,
                         unsigned max) {
  CAIRN_CHECK(check_key_segment("fleet name", fleet));
  CAIRN_CHECK(check_key_segment("group", group));
  if (max < 1) return fail(Errc::invalid_input, "a fleet lock's max must be at least 1");
  std::string key = semaphore_key(fleet, group);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    // Holders beyond a lowered max keep their places; no new one is given until they leave.
    auto current = CAIRN_TRY(read_current(client, fleet, group, max));
    Semaphore next = current.semaphore;
    next.max = max;
    std::vector<EtcdClient::Write> writes;
    for (const auto& expired : current.expired) {
      writes.push_back(EtcdClient::Delete{holder_key(fleet, group, expired)});
    }
    if (CAIRN_TRY(replace(client, key, current, next, std::move(writes)))) return {};
  }
  return fail(Errc::busy, "the fleet lock of group " + group + " kept changing");
}

Expected<std::vector<std::string>> unlock_host(EtcdClient& client, const std::string& fleet,
                                               const std::string& host) {
  CAIRN_CHECK(check_key_segment("host id", host));
  std::vector<std::string> freed;
  for (const auto& lock : CAIRN_TRY(list_group_locks(client, fleet))) {
    if (CAIRN_TRY(EtcdRebootLock::free_place(client, fleet, lock.group, host))) {
      freed.push_back(lock.group);
    }
  }
  return freed;
}

}  // namespace cairn::fleet
