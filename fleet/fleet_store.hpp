// The fleet's shared state: what every host reports and what the rollout obeys. The interface
// is the seam (a fake in unit tests); EtcdFleetStore keeps it in etcd under /cairn/<fleet>/:
//
//   hosts/<id>               HostRecord (JSON): the host's last reported update state
//   alive/<id>               "" under the host's lease: gone when the host stops renewing it, so
//                            hosts/<id> without alive/<id> is a stale host
//   outcomes/<version>/<id>  OutcomeRecord (JSON): how the update to <version> ended there
//   control/<version>        VersionControl (JSON): halted (by its failures), paused or pulled
//   promotions/<version>/<to> PromotionRecord (JSON): published in channel <to> by promote
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "fleet/etcd_client.hpp"

namespace cairn::fleet {

struct HostRecord {
  std::string id;       // the machine-id
  std::string group;    // [fleet] group
  std::string channel;  // the channel it follows
  std::string machine_class;
  // Its host name, as cairn-attest enrolls it with the verifier unless told another: what
  // promotion on attested evidence matches the verifier's hosts by. Empty from older hosts.
  std::string hostname;
  std::string version;  // running
  std::string phase;    // the updater's lifecycle phase ("idle", "installed", "observing", …)
  std::string target;   // the version being installed, booted or observed; "" when none
  std::string message;  // the last poll's one line: "up to date", "waiting for wave 2 (…)", …
  std::string updated;  // RFC 3339
  bool alive = true;    // filled in by hosts(): false when its lease expired
  bool operator==(const HostRecord&) const = default;
};

struct StepTime {
  std::string step;
  double seconds = 0;
  bool operator==(const StepTime&) const = default;
};

struct CheckOutcome {
  std::string name;
  bool passed = false;
  std::string detail;
  bool operator==(const CheckOutcome&) const = default;
};

enum class OutcomeKind { committed, rolled_back };
std::string_view outcome_kind_name(OutcomeKind kind);
Expected<OutcomeKind> parse_outcome_kind(std::string_view name);

struct OutcomeRecord {
  std::string host;
  std::string group;
  std::string from_version;
  std::string to_version;
  OutcomeKind outcome = OutcomeKind::committed;
  std::string reason;  // why it rolled back, or the window's summary
  // An administrator's rollback or mark-bad: the operator's decision, not a failure of the
  // update (it neither halts the rollout nor counts against a promotion).
  bool by_operator = false;
  std::vector<StepTime> steps;       // install steps
  double window_seconds = 0;         // the health window, when it ran
  std::vector<CheckOutcome> checks;  // the window's last round
  std::string at;                    // RFC 3339
  bool operator==(const OutcomeRecord&) const = default;
};

enum class ControlState { halted, paused, pulled };
std::string_view control_state_name(ControlState state);
Expected<ControlState> parse_control_state(std::string_view name);

struct VersionControl {
  ControlState state = ControlState::paused;
  std::string by;  // a host (halted) or an operator
  std::string reason;
  std::string at;  // RFC 3339
  bool operator==(const VersionControl&) const = default;
};

// A version published in another channel by `cairn-fleet promote` (promotions/<version>/<to>).
struct PromotionRecord {
  std::string from_channel;
  std::string to_channel;
  std::string by;
  bool forced = false;   // promoted without the evidence
  std::string evidence;  // what the store showed
  std::string at;
  bool operator==(const PromotionRecord&) const = default;
};

// The records as etcd holds them: one JSON object each, the struct's fields under the same names
// (enums by their names: "rolled-back", "halted"; steps as {"step", "seconds"}, checks as
// {"name", "passed", "detail"}); HostRecord::alive is not stored. Parsing is strict: a missing,
// mistyped or unknown field is an Errc::invalid_input naming it. Writing replaces invalid UTF-8
// in a string with U+FFFD rather than failing.
Expected<HostRecord> parse_host_record(std::string_view json);
std::string host_record_json(const HostRecord& record);
Expected<OutcomeRecord> parse_outcome_record(std::string_view json);
std::string outcome_record_json(const OutcomeRecord& record);
Expected<PromotionRecord> parse_promotion_record(std::string_view json);
std::string promotion_record_json(const PromotionRecord& record);
Expected<VersionControl> parse_version_control(std::string_view json);
std::string version_control_json(const VersionControl& control);

class FleetStore {
 public:
  virtual ~FleetStore() = default;

  // Keeps alive/<id> under a lease of `ttl`: renews `lease` when it still lives (one request),
  // else grants a new lease and writes the key. Returns the lease to keep for the next call.
  virtual Expected<std::int64_t> keep_alive(const std::string& host, std::int64_t lease,
                                            std::chrono::seconds ttl) = 0;
  virtual Status put_host(const HostRecord& record) = 0;
  // Listings are in key order (host id). A record that does not parse fails the whole listing
  // with an error naming its key: a report built on the other records would hide that host.
  virtual Expected<std::vector<HostRecord>> hosts() = 0;

  virtual Status put_outcome(const std::string& version, const OutcomeRecord& record) = 0;
  virtual Expected<std::vector<OutcomeRecord>> outcomes(const std::string& version) = 0;

  virtual Expected<std::map<std::string, VersionControl>> controls() = 0;
  virtual Status put_control(const std::string& version, const VersionControl& control) = 0;
  // Returns false when the version had no control record.
  virtual Expected<bool> clear_control(const std::string& version) = 0;

  virtual Status put_promotion(const std::string& version, const PromotionRecord& record) = 0;
  virtual Expected<std::vector<PromotionRecord>> promotions(const std::string& version) = 0;
};

// `fleet`: the name under /cairn/ (several fleets can share one etcd).
std::unique_ptr<FleetStore> etcd_fleet_store(EtcdClient client, std::string fleet);

}  // namespace cairn::fleet
