#include "updater/state.hpp"

#include <nlohmann/json.hpp>

#include "common/fs.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;

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
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return fail(Errc::invalid_input, path.string() + " is not valid JSON");
  }
  HostState state;
  try {
    state.security_floor = json.value("security_floor", std::uint64_t{0});
    if (json.contains("pending") && json["pending"].is_object()) {
      const auto& pending = json["pending"];
      std::string slot = pending.at("slot").get<std::string>();
      state.pending =
          PendingSlot{.slot = slot == "B" ? 'B' : 'A',
                      .version = pending.at("version").get<std::string>(),
                      .security_version = pending.value("security_version", std::uint64_t{0}),
                      .install_boot_id = pending.value("install_boot_id", std::string()),
                      .failure = pending.value("failure", std::string())};
    }
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::invalid_input, path.string() + ": " + e.what());
  }
  return state;
}

Status save_state(const fs::path& state_dir, const HostState& state) {
  nlohmann::json json{{"security_floor", state.security_floor}};
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
