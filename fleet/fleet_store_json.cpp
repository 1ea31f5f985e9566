// The fleet store's records as JSON. Every host writes them and every operator's CLI reads all
// of them, so the reader is strict: a field it does not know is an error, never skipped, and a
// writer finds out at once (etcd_fleet_store parses each record back before writing it).
#include <nlohmann/json.hpp>

#include "common/strict_json.hpp"
#include "fleet/fleet_store.hpp"
#include "fleet/reboot_lock.hpp"

namespace cairn::fleet {
namespace {

using nlohmann::json;

// Strings come from everywhere (a check's detail quotes a tool's output): invalid UTF-8 becomes
// U+FFFD instead of nlohmann's exception, so writing a record cannot fail.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

Expected<std::string> non_empty(StrictJsonObject& fields, const char* key) {
  std::string value = CAIRN_TRY(fields.string(key));
  if (value.empty()) return fields.invalid(key, "must not be empty");
  return value;
}

Expected<double> seconds(StrictJsonObject& fields, const char* key) {
  double value = CAIRN_TRY(fields.number(key));
  if (value < 0) return fields.invalid(key, "must not be negative");
  return value;
}

// The object `value` read by `read`, which asks for every field it knows; any other is refused.
template <class T>
Expected<T> read_object(const json& value, std::string where,
                        Expected<T> (*read)(StrictJsonObject&)) {
  auto fields = CAIRN_TRY(StrictJsonObject::of(value, std::move(where)));
  T out = CAIRN_TRY(read(fields));
  CAIRN_CHECK(fields.finish());
  return out;
}

template <class T>
Expected<T> parse_record(std::string_view text, const char* what,
                         Expected<T> (*read)(StrictJsonObject&)) {
  json root = CAIRN_TRY(parse_strict_json(text, what));
  return read_object(root, what, read);
}

// The objects of the array `key`, each read by `read`, errors naming their position.
template <class T>
Expected<std::vector<T>> array_of(StrictJsonObject& fields, const char* key, const char* where,
                                  Expected<T> (*read)(StrictJsonObject&)) {
  const json* array = CAIRN_TRY(fields.array(key));
  std::vector<T> out;
  for (std::size_t i = 0; i < array->size(); ++i) {
    std::string position = std::string(where) + " " + key + "[" + std::to_string(i) + "]";
    out.push_back(CAIRN_TRY(read_object((*array)[i], std::move(position), read)));
  }
  return out;
}

Expected<HostRecord> read_host(StrictJsonObject& fields) {
  HostRecord record;
  record.id = CAIRN_TRY(non_empty(fields, "id"));
  record.group = CAIRN_TRY(fields.string("group"));
  record.channel = CAIRN_TRY(fields.string("channel"));
  record.machine_class = CAIRN_TRY(fields.string("machine_class"));
  record.hostname = CAIRN_TRY(fields.optional_string("hostname")).value_or("");
  record.version = CAIRN_TRY(fields.string("version"));
  record.phase = CAIRN_TRY(non_empty(fields, "phase"));
  record.target = CAIRN_TRY(fields.string("target"));
  record.message = CAIRN_TRY(fields.string("message"));
  record.updated = CAIRN_TRY(fields.string("updated"));
  return record;
}

Expected<StepTime> read_step(StrictJsonObject& fields) {
  StepTime step;
  step.step = CAIRN_TRY(non_empty(fields, "step"));
  step.seconds = CAIRN_TRY(seconds(fields, "seconds"));
  return step;
}

Expected<CheckOutcome> read_check(StrictJsonObject& fields) {
  CheckOutcome check;
  check.name = CAIRN_TRY(non_empty(fields, "name"));
  check.passed = CAIRN_TRY(fields.boolean("passed"));
  check.detail = CAIRN_TRY(fields.string("detail"));
  return check;
}

Expected<OutcomeRecord> read_outcome(StrictJsonObject& fields) {
  OutcomeRecord record;
  record.host = CAIRN_TRY(non_empty(fields, "host"));
  record.group = CAIRN_TRY(fields.string("group"));
  record.from_version = CAIRN_TRY(fields.string("from_version"));
  record.to_version = CAIRN_TRY(non_empty(fields, "to_version"));
  auto kind = parse_outcome_kind(CAIRN_TRY(fields.string("outcome")));
  if (!kind) return std::unexpected(std::move(kind.error()).with_context("outcome record"));
  record.outcome = *kind;
  record.reason = CAIRN_TRY(fields.string("reason"));
  record.by_operator = CAIRN_TRY(fields.boolean("by_operator"));
  record.steps = CAIRN_TRY(array_of(fields, "steps", "outcome record", read_step));
  record.window_seconds = CAIRN_TRY(seconds(fields, "window_seconds"));
  record.checks = CAIRN_TRY(array_of(fields, "checks", "outcome record", read_check));
  record.at = CAIRN_TRY(fields.string("at"));
  return record;
}

Expected<VersionControl> read_control(StrictJsonObject& fields) {
  VersionControl control;
  auto state = parse_control_state(CAIRN_TRY(fields.string("state")));
  if (!state) return std::unexpected(std::move(state.error()).with_context("version control"));
  control.state = *state;
  control.by = CAIRN_TRY(fields.string("by"));
  control.reason = CAIRN_TRY(fields.string("reason"));
  control.at = CAIRN_TRY(fields.string("at"));
  return control;
}

Expected<PromotionRecord> read_promotion(StrictJsonObject& fields) {
  PromotionRecord record;
  record.from_channel = CAIRN_TRY(non_empty(fields, "from_channel"));
  record.to_channel = CAIRN_TRY(non_empty(fields, "to_channel"));
  record.by = CAIRN_TRY(fields.string("by"));
  record.forced = CAIRN_TRY(fields.boolean("forced"));
  record.evidence = CAIRN_TRY(fields.string("evidence"));
  record.at = CAIRN_TRY(fields.string("at"));
  return record;
}

Expected<SemaphoreHolder> read_holder(StrictJsonObject& fields) {
  SemaphoreHolder holder;
  holder.id = CAIRN_TRY(non_empty(fields, "id"));
  holder.since = CAIRN_TRY(fields.string("since"));
  holder.version = CAIRN_TRY(fields.string("version"));
  return holder;
}

Expected<Semaphore> read_semaphore(StrictJsonObject& fields) {
  Semaphore semaphore;
  double max = CAIRN_TRY(fields.number("max"));
  if (max < 1 || max > 1e6 || max != static_cast<double>(static_cast<unsigned>(max))) {
    return fields.invalid("max", "must be a whole number from 1 to 1000000");
  }
  semaphore.max = static_cast<unsigned>(max);
  semaphore.holders = CAIRN_TRY(array_of(fields, "holders", "semaphore", read_holder));
  for (std::size_t i = 0; i < semaphore.holders.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (semaphore.holders[i].id == semaphore.holders[j].id) {
        return fields.invalid("holders", "name " + semaphore.holders[i].id + " twice");
      }
    }
  }
  return semaphore;
}

}  // namespace

Expected<Semaphore> parse_semaphore(std::string_view text) {
  return parse_record(text, "semaphore", read_semaphore);
}

std::string semaphore_json(const Semaphore& semaphore) {
  json holders = json::array();
  for (const auto& holder : semaphore.holders) {
    holders.push_back({{"id", holder.id}, {"since", holder.since}, {"version", holder.version}});
  }
  return dump({{"max", semaphore.max}, {"holders", std::move(holders)}});
}

Expected<PromotionRecord> parse_promotion_record(std::string_view text) {
  return parse_record(text, "promotion record", read_promotion);
}

std::string promotion_record_json(const PromotionRecord& record) {
  return dump({{"from_channel", record.from_channel},
               {"to_channel", record.to_channel},
               {"by", record.by},
               {"forced", record.forced},
               {"evidence", record.evidence},
               {"at", record.at}});
}

Expected<HostRecord> parse_host_record(std::string_view text) {
  return parse_record(text, "host record", read_host);
}

std::string host_record_json(const HostRecord& record) {
  nlohmann::json json{{"id", record.id},           {"group", record.group},
                      {"channel", record.channel}, {"machine_class", record.machine_class},
                      {"version", record.version}, {"phase", record.phase},
                      {"target", record.target},   {"message", record.message},
                      {"updated", record.updated}};
  // Only when known: a record without it reads the same to a cairn-fleet of before.
  if (!record.hostname.empty()) json["hostname"] = record.hostname;
  return dump(json);
}

Expected<OutcomeRecord> parse_outcome_record(std::string_view text) {
  return parse_record(text, "outcome record", read_outcome);
}

std::string outcome_record_json(const OutcomeRecord& record) {
  json steps = json::array();
  for (const auto& step : record.steps) {
    steps.push_back({{"step", step.step}, {"seconds", step.seconds}});
  }
  json checks = json::array();
  for (const auto& check : record.checks) {
    checks.push_back({{"name", check.name}, {"passed", check.passed}, {"detail", check.detail}});
  }
  return dump({{"host", record.host},
               {"group", record.group},
               {"from_version", record.from_version},
               {"to_version", record.to_version},
               {"outcome", outcome_kind_name(record.outcome)},
               {"reason", record.reason},
               {"by_operator", record.by_operator},
               {"steps", std::move(steps)},
               {"window_seconds", record.window_seconds},
               {"checks", std::move(checks)},
               {"at", record.at}});
}

Expected<VersionControl> parse_version_control(std::string_view text) {
  return parse_record(text, "version control", read_control);
}

std::string version_control_json(const VersionControl& control) {
  return dump({{"state", control_state_name(control.state)},
               {"by", control.by},
               {"reason", control.reason},
               {"at", control.at}});
}

}  // namespace cairn::fleet
