#include "updater/state.hpp"

#include <nlohmann/json.hpp>

#include "common/enum_names.hpp"
#include "common/fs.hpp"
#include "common/strict_json.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;

namespace {

constexpr std::pair<Phase, std::string_view> kPhaseNames[] = {
    {Phase::idle, "idle"},           {Phase::installing, "installing"},
    {Phase::installed, "installed"}, {Phase::booting, "booting"},
    {Phase::observing, "observing"}, {Phase::committed, "committed"},
    {Phase::failed, "failed"},       {Phase::rolled_back, "rolled-back"},
};

}  // namespace

std::string_view phase_name(Phase phase) { return enum_name(kPhaseNames, phase); }

std::optional<Phase> parse_phase(std::string_view name) {
  return enum_from_name(kPhaseNames, name);
}

bool phase_has_update(Phase phase) {
  switch (phase) {
    case Phase::installing:
    case Phase::installed:
    case Phase::booting:
    case Phase::observing:
    case Phase::failed:
      return true;
    default:
      return false;
  }
}

std::string current_boot_id() {
  auto text = read_file("/proc/sys/kernel/random/boot_id");
  if (!text) return {};
  std::string id = *text;
  while (!id.empty() && id.back() == '\n') id.pop_back();
  return id;
}

Expected<HostState> load_state(const fs::path& state_dir) {
  fs::path path = state_dir / "state.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return HostState{};
  auto text = CAIRN_TRY(read_file(path));
  auto json = CAIRN_TRY(parse_strict_json(text, path.string()));
  if (!json.is_object()) return fail(Errc::invalid_input, path.string() + " is not a JSON object");
  HostState state;
  try {
    state.security_floor = json.value("security_floor", std::uint64_t{0});
    if (json.contains("pending") && json["pending"].is_object()) {
      const auto& pending = json["pending"];
      std::string slot = pending.at("slot").get<std::string>();
      if (slot != "A" && slot != "B") {
        return fail(Errc::invalid_input, path.string() + ": pending slot '" + slot + "'");
      }
      state.pending =
          PendingSlot{.slot = slot[0],
                      .version = pending.at("version").get<std::string>(),
                      .security_version = pending.value("security_version", std::uint64_t{0}),
                      .install_boot_id = pending.value("install_boot_id", std::string()),
                      .failure = pending.value("failure", std::string())};
    }
    if (json.contains("phase")) {
      auto name = json["phase"].get<std::string>();
      auto phase = parse_phase(name);
      if (!phase)
        return fail(Errc::invalid_input, path.string() + ": unknown phase '" + name + "'");
      state.phase = *phase;
    } else if (state.pending) {
      // Written by a cairn-update without phases: a pending slot was installed, or had failed.
      state.phase = state.pending->failure.empty() ? Phase::installed : Phase::failed;
    }
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::invalid_input, path.string() + ": " + e.what());
  }
  if (phase_has_update(state.phase) != state.pending.has_value()) {
    return fail(Errc::invalid_input, path.string() + ": phase " +
                                         std::string(phase_name(state.phase)) +
                                         (state.pending ? " with" : " without") + " an update");
  }
  return state;
}

Status save_state(const fs::path& state_dir, const HostState& state) {
  nlohmann::json json{{"security_floor", state.security_floor}, {"phase", phase_name(state.phase)}};
  if (state.pending) {
    json["pending"] = {{"slot", std::string(1, state.pending->slot)},
                       {"version", state.pending->version},
                       {"security_version", state.pending->security_version},
                       {"install_boot_id", state.pending->install_boot_id},
                       {"failure", state.pending->failure}};
  }
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  return write_file_atomic(state_dir / "state.json", json.dump(2) + "\n");
}

}  // namespace cairn::updater
