// FleetStore on etcd, with the key layout fleet_store.hpp documents. Request counts, which a
// poll pays on every host of the fleet: keep_alive of a live lease 1, a new lease 2 (grant, put);
// put_* 1; hosts() 2 (hosts/ and alive/); outcomes(), controls() and promotions() 1.
#include <set>
#include <utility>

#include "fleet/etcd_json.hpp"
#include "fleet/fleet_store.hpp"

namespace cairn::fleet {
namespace {

class EtcdFleetStore final : public FleetStore {
 public:
  EtcdFleetStore(EtcdClient client, std::string fleet)
      : client_(std::move(client)), fleet_(std::move(fleet)), root_("/cairn/" + fleet_ + "/") {}

  Expected<std::int64_t> keep_alive(const std::string& host, std::int64_t lease,
                                    std::chrono::seconds ttl) override {
    CAIRN_CHECK(check_segments("host id", host));
    if (lease != 0) {
      auto left = CAIRN_TRY(client_.keep_alive(lease));
      if (left.count() > 0) return lease;
    }
    // The lease expired (the host slept, or etcd lost it): alive/<id> went with it. A grant
    // whose put fails is left to expire by itself; it holds no key.
    std::int64_t granted = CAIRN_TRY(client_.grant_lease(ttl));
    CAIRN_CHECK(client_.put(root_ + "alive/" + host, "", granted));
    return granted;
  }

  Status put_host(const HostRecord& record) override {
    CAIRN_CHECK(check_segments("host id", record.id));
    std::string text = host_record_json(record);
    CAIRN_CHECK(refuse_unreadable(parse_host_record(text), "host record of " + record.id));
    return client_.put(root_ + "hosts/" + record.id, text);
  }

  Expected<std::vector<HostRecord>> hosts() override {
    CAIRN_CHECK(check_key_segment("fleet name", fleet_));
    std::string hosts_prefix = root_ + "hosts/", alive_prefix = root_ + "alive/";
    auto records = CAIRN_TRY(client_.get_prefix(hosts_prefix));
    auto alive_keys = CAIRN_TRY(client_.get_prefix(alive_prefix));
    std::set<std::string, std::less<>> alive;
    for (const auto& kv : alive_keys) alive.insert(kv.key.substr(alive_prefix.size()));
    std::vector<HostRecord> out;
    for (const auto& kv : records) {
      auto record = CAIRN_TRY(record_at(kv, hosts_prefix, parse_host_record, &HostRecord::id));
      record.alive = alive.contains(record.id);
      out.push_back(std::move(record));
    }
    return out;
  }

  Status put_outcome(const std::string& version, const OutcomeRecord& record) override {
    CAIRN_CHECK(check_segments("version", version));
    CAIRN_CHECK(check_key_segment("host id", record.host));
    std::string text = outcome_record_json(record);
    CAIRN_CHECK(refuse_unreadable(parse_outcome_record(text), "outcome record of " + record.host));
    return client_.put(root_ + "outcomes/" + version + "/" + record.host, text);
  }

  Expected<std::vector<OutcomeRecord>> outcomes(const std::string& version) override {
    CAIRN_CHECK(check_segments("version", version));
    std::string prefix = root_ + "outcomes/" + version + "/";
    auto records = CAIRN_TRY(client_.get_prefix(prefix));
    std::vector<OutcomeRecord> out;
    for (const auto& kv : records) {
      out.push_back(CAIRN_TRY(record_at(kv, prefix, parse_outcome_record, &OutcomeRecord::host)));
    }
    return out;
  }

  Expected<std::map<std::string, VersionControl>> controls() override {
    CAIRN_CHECK(check_key_segment("fleet name", fleet_));
    std::string prefix = root_ + "control/";
    auto records = CAIRN_TRY(client_.get_prefix(prefix));
    std::map<std::string, VersionControl> out;
    for (const auto& kv : records) {
      auto control = parse_version_control(kv.value);
      if (!control) return unreadable(std::move(control.error()), kv.key);
      out.emplace(kv.key.substr(prefix.size()), std::move(*control));
    }
    return out;
  }

  Status put_control(const std::string& version, const VersionControl& control) override {
    CAIRN_CHECK(check_segments("version", version));
    return client_.put(root_ + "control/" + version, version_control_json(control));
  }

  Expected<bool> clear_control(const std::string& version) override {
    CAIRN_CHECK(check_segments("version", version));
    return CAIRN_TRY(client_.remove(root_ + "control/" + version)) > 0;
  }

  Status put_promotion(const std::string& version, const PromotionRecord& record) override {
    CAIRN_CHECK(check_segments("version", version));
    CAIRN_CHECK(check_key_segment("channel", record.to_channel));
    std::string text = promotion_record_json(record);
    CAIRN_CHECK(refuse_unreadable(parse_promotion_record(text), "promotion record"));
    return client_.put(root_ + "promotions/" + version + "/" + record.to_channel, text);
  }

  Expected<std::vector<PromotionRecord>> promotions(const std::string& version) override {
    CAIRN_CHECK(check_segments("version", version));
    std::string prefix = root_ + "promotions/" + version + "/";
    std::vector<PromotionRecord> out;
    for (const auto& kv : CAIRN_TRY(client_.get_prefix(prefix))) {
      auto record = parse_promotion_record(kv.value);
      if (!record) return unreadable(std::move(record.error()), kv.key);
      out.push_back(std::move(*record));
    }
    return out;
  }

 private:
  Status check_segments(std::string_view what, std::string_view text) const {
    CAIRN_CHECK(check_key_segment("fleet name", fleet_));
    return check_key_segment(what, text);
  }

  // A record this store would refuse to read back is not written: one bad host record would
  // otherwise fail every operator's listing (see FleetStore::hosts).
  template <class T>
  static Status refuse_unreadable(const Expected<T>& parsed, const std::string& what) {
    if (parsed) return {};
    return fail(Errc::invalid_input, what + " not written: " + parsed.error().describe());
  }

  // The record under `kv`, whose key is `prefix` and the host the record names in `host`.
  template <class Record>
  Expected<Record> record_at(const EtcdKeyValue& kv, const std::string& prefix,
                             Expected<Record> (*parse)(std::string_view),
                             std::string Record::*host) const {
    auto record = parse(kv.value);
    if (record && (*record).*host != kv.key.substr(prefix.size())) {
      record = fail(Errc::invalid_input, "the record names host '" + (*record).*host + "'");
    }
    if (!record) return unreadable(std::move(record.error()), kv.key);
    return record;
  }

  std::unexpected<Error> unreadable(Error error, std::string_view key) const {
    return std::unexpected(
        std::move(error).with_context("reading " + printable(key) + " from " + client_.endpoint()));
  }

  EtcdClient client_;
  std::string fleet_;
  std::string root_;
};

}  // namespace

std::unique_ptr<FleetStore> etcd_fleet_store(EtcdClient client, std::string fleet) {
  return std::make_unique<EtcdFleetStore>(std::move(client), std::move(fleet));
}

}  // namespace cairn::fleet
