// An in-memory FleetStore for unit tests: the same data model as the etcd one (hosts, leases,
// outcomes per version, controls), a request counter, and failures on demand.
#pragma once

#include <map>
#include <optional>

#include "fleet/fleet_store.hpp"

namespace cairn::fleet::testing {

class FakeFleetStore final : public FleetStore {
 public:
  Expected<std::int64_t> keep_alive(const std::string& host, std::int64_t lease,
                                    std::chrono::seconds) override {
    CAIRN_CHECK(request());
    if (lease != 0 && live_leases.contains(lease)) return lease;
    std::int64_t granted = ++next_lease;
    live_leases[granted] = host;
    return granted;
  }
  Status put_host(const HostRecord& record) override {
    CAIRN_CHECK(request());
    host_records[record.id] = record;
    return {};
  }
  Expected<std::vector<HostRecord>> hosts() override {
    CAIRN_CHECK(request());
    std::vector<HostRecord> out;
    for (auto [id, record] : host_records) {
      record.alive = std::ranges::any_of(live_leases, [&](auto& l) { return l.second == id; });
      out.push_back(record);
    }
    return out;
  }
  Status put_outcome(const std::string& version, const OutcomeRecord& record) override {
    CAIRN_CHECK(request());
    outcome_records[version][record.host] = record;
    return {};
  }
  Expected<std::vector<OutcomeRecord>> outcomes(const std::string& version) override {
    CAIRN_CHECK(request());
    std::vector<OutcomeRecord> out;
    for (const auto& [host, record] : outcome_records[version]) out.push_back(record);
    return out;
  }
  Expected<std::map<std::string, VersionControl>> controls() override {
    CAIRN_CHECK(request());
    return control_records;
  }
  Status put_control(const std::string& version, const VersionControl& control) override {
    CAIRN_CHECK(request());
    control_records[version] = control;
    return {};
  }
  Expected<bool> clear_control(const std::string& version) override {
    CAIRN_CHECK(request());
    return control_records.erase(version) > 0;
  }

  Status put_promotion(const std::string& version, const PromotionRecord& record) override {
    CAIRN_CHECK(request());
    promotion_records[version].push_back(record);
    return {};
  }
  Expected<std::vector<PromotionRecord>> promotions(const std::string& version) override {
    CAIRN_CHECK(request());
    return promotion_records[version];
  }

  // A lease expiring: its host turns stale.
  void expire(const std::string& host) {
    std::erase_if(live_leases, [&](const auto& lease) { return lease.second == host; });
  }

  std::map<std::string, HostRecord> host_records;
  std::map<std::string, std::map<std::string, OutcomeRecord>> outcome_records;
  std::map<std::string, VersionControl> control_records;
  std::map<std::string, std::vector<PromotionRecord>> promotion_records;
  std::map<std::int64_t, std::string> live_leases;
  std::int64_t next_lease = 100;
  unsigned requests = 0;
  bool unreachable = false;

 private:
  Status request() {
    ++requests;
    if (unreachable) return fail(Errc::unavailable, "etcd at http://127.0.0.1:1 unreachable");
    return {};
  }
};

}  // namespace cairn::fleet::testing
