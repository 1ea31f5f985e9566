#include "updater/history.hpp"

#include <ctime>
#include <stdexcept>

#include "common/enum_names.hpp"
#include "common/fs.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kKeep = 100;

constexpr std::pair<Outcome, std::string_view> kOutcomeNames[] = {
    {Outcome::installing, "installing"},
    {Outcome::installed, "installed"},
    {Outcome::install_failed, "install-failed"},
    {Outcome::cancelled, "cancelled"},
    {Outcome::observing, "observing"},
    {Outcome::committed, "committed"},
    {Outcome::failed, "failed"},
    {Outcome::rolled_back, "rolled-back"},
};

nlohmann::json check_json(const CheckResult& check) {
  return {{"name", check.name},
          {"required", check.required},
          {"passed", check.passed},
          {"detail", check.detail}};
}

CheckResult check_from(const nlohmann::json& json) {
  return {.name = json.at("name").get<std::string>(),
          .required = json.value("required", true),
          .passed = json.value("passed", false),
          .detail = json.value("detail", std::string())};
}

nlohmann::json record_json(const UpdateRecord& record) {
  nlohmann::json json{{"id", record.id},
                      {"version", record.version},
                      {"from_version", record.from_version},
                      {"slot", std::string(1, record.slot)},
                      {"source", record.source},
                      {"security_version", record.security_version},
                      {"outcome", outcome_name(record.outcome)},
                      {"reason", record.reason},
                      {"steps", nlohmann::json::array()},
                      {"checks", nlohmann::json::array()},
                      {"warnings", nlohmann::json::array()},
                      {"events", nlohmann::json::array()}};
  for (const auto& step : record.steps) {
    json["steps"].push_back({{"step", step.step}, {"seconds", step.seconds}});
  }
  for (const auto& check : record.checks) json["checks"].push_back(check_json(check));
  for (const auto& check : record.warnings) json["warnings"].push_back(check_json(check));
  for (const auto& event : record.events) {
    json["events"].push_back({{"at", event.at}, {"what", event.what}});
  }
  return json;
}

Outcome outcome_from(const std::string& name) {
  auto outcome = parse_outcome(name);
  if (!outcome) throw std::invalid_argument("unknown outcome '" + name + "'");
  return *outcome;
}

UpdateRecord record_from(const nlohmann::json& json) {
  UpdateRecord record{.id = json.at("id").get<std::uint64_t>(),
                      .version = json.at("version").get<std::string>(),
                      .from_version = json.value("from_version", std::string()),
                      .slot = json.value("slot", std::string("B")) == "A" ? 'A' : 'B',
                      .source = json.value("source", std::string()),
                      .security_version = json.value("security_version", std::uint64_t{0}),
                      .outcome = outcome_from(json.at("outcome").get<std::string>()),
                      .reason = json.value("reason", std::string())};
  for (const auto& step : json.value("steps", nlohmann::json::array())) {
    record.steps.push_back({step.at("step").get<std::string>(), step.at("seconds").get<double>()});
  }
  for (const auto& check : json.value("checks", nlohmann::json::array())) {
    record.checks.push_back(check_from(check));
  }
  for (const auto& check : json.value("warnings", nlohmann::json::array())) {
    record.warnings.push_back(check_from(check));
  }
  for (const auto& event : json.value("events", nlohmann::json::array())) {
    record.events.push_back(
        {event.at("at").get<std::string>(), event.at("what").get<std::string>()});
  }
  return record;
}

}  // namespace

std::string_view outcome_name(Outcome outcome) { return enum_name(kOutcomeNames, outcome); }

std::optional<Outcome> parse_outcome(std::string_view name) {
  return enum_from_name(kOutcomeNames, name);
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

void UpdateRecord::add_event(std::string what) { events.push_back({utc_now(), std::move(what)}); }

Expected<History> History::load(const fs::path& state_dir) {
  fs::path path = state_dir / "history.json";
  std::error_code ec;
  History history;
  if (!fs::exists(path, ec)) return history;
  auto text = CAIRN_TRY(read_file(path));
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("updates")) {
    return fail(Errc::invalid_input, path.string() + " is not a Cairn update history");
  }
  try {
    for (const auto& record : json["updates"]) history.records_.push_back(record_from(record));
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::invalid_input, path.string() + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    return fail(Errc::invalid_input, path.string() + ": " + e.what());
  }
  return history;
}

Status History::save(const fs::path& state_dir) const {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  return write_file_atomic(state_dir / "history.json", to_json().dump(2) + "\n");
}

UpdateRecord& History::add(UpdateRecord record) {
  record.id = records_.empty() ? 1 : records_.back().id + 1;
  records_.push_back(std::move(record));
  if (records_.size() > kKeep) {
    records_.erase(records_.begin(), records_.end() - static_cast<std::ptrdiff_t>(kKeep));
  }
  return records_.back();
}

UpdateRecord* History::latest(std::string_view version, char slot) {
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (it->version == version && it->slot == slot) return &*it;
  }
  return nullptr;
}

nlohmann::json History::to_json() const {
  nlohmann::json json{{"updates", nlohmann::json::array()}};
  for (const auto& record : records_) json["updates"].push_back(record_json(record));
  return json;
}

}  // namespace cairn::updater
