#include "updater/status.hpp"

#include <algorithm>

namespace cairn::updater {

namespace {

SlotStatus slot_status(const Slot& slot, const std::vector<std::string>& entries) {
  SlotStatus status{.name = slot.name, .partuuid = slot.root.uuid, .label = slot.root.label};
  std::string version = slot.version();
  if (version.empty()) return status;
  auto entry = std::ranges::find_if(
      entries, [&](const std::string& name) { return entry_is_version(name, version); });
  // A slot named for a version without an entry boots nothing: it holds no version for anyone.
  if (entry == entries.end()) return status;
  status.version = version;
  status.entry = *entry;
  return status;
}

nlohmann::json slot_json(const SlotStatus& slot) {
  return {{"version", slot.version},
          {"partuuid", slot.partuuid},
          {"entry", slot.entry},
          {"label", slot.label}};
}

std::string slot_line(const SlotStatus& slot, const HostStatus& status) {
  std::string line = std::string("slot ") + slot.name + ": ";
  if (slot.version.empty()) {
    line += slot.label == kEmptyRootName || slot.label.empty()
                ? "(empty)"
                : "(no version: " + slot.label + " has no boot entry)";
  } else {
    line += slot.version + " (" + slot.entry + ")";
  }
  if (status.booted == slot.name) line += "  <- booted";
  return line + "\n";
}

}  // namespace

Expected<HostStatus> read_status(const HostOptions& host) {
  auto layout = CAIRN_TRY(read_slot_layout(host.disk));
  SystemProcessRunner runner;
  auto esp = open_esp(host, layout, runner);
  auto entries = CAIRN_TRY(esp->list_entries());
  auto state = CAIRN_TRY(load_state(host.state));
  HostStatus status{.disk = host.disk.string(),
                    .a = slot_status(layout.a, entries),
                    .b = slot_status(layout.b, entries),
                    .security_floor = state.security_floor,
                    .phase = state.phase,
                    .update = state.pending};
  if (auto booted = booted_slot(layout, host.booted)) {
    status.booted = *booted;
  } else {
    status.booted_unknown = booted.error().describe();
  }
  auto history = History::load(host.state);
  if (history && !history->records().empty()) status.last_update = history->records().back();
  if (auto polled = load_poll_state(host.state)) status.last_poll = polled->last;
  return status;
}

nlohmann::json status_json(const HostStatus& status) {
  nlohmann::json out{{"disk", status.disk},
                     {"booted", status.booted ? std::string(1, *status.booted) : ""},
                     {"slots", {{"A", slot_json(status.a)}, {"B", slot_json(status.b)}}},
                     {"security_floor", status.security_floor},
                     {"phase", phase_name(status.phase)}};
  if (!status.booted) out["booted_unknown"] = status.booted_unknown;
  if (status.update) {
    out["pending"] = {{"slot", std::string(1, status.update->slot)},
                      {"version", status.update->version},
                      {"security_version", status.update->security_version},
                      {"failure", status.update->failure}};
  }
  if (status.last_update) {
    const UpdateRecord& last = *status.last_update;
    out["last_update"] = {{"version", last.version},
                          {"from_version", last.from_version},
                          {"slot", std::string(1, last.slot)},
                          {"outcome", outcome_name(last.outcome)},
                          {"reason", last.reason}};
  }
  if (status.last_poll) {
    out["last_poll"] = {{"at", status.last_poll->at},
                        {"ok", status.last_poll->ok},
                        {"message", status.last_poll->message}};
  }
  return out;
}

std::string status_text(const HostStatus& status) {
  std::string text = slot_line(status.a, status) + slot_line(status.b, status);
  if (!status.booted) text += "booted: unknown (" + status.booted_unknown + ")\n";
  text += "security floor: " + std::to_string(status.security_floor) + "\n";
  text += "update: " + std::string(phase_name(status.phase));
  if (status.update) {
    text += ", " + status.update->version + " in slot " + std::string(1, status.update->slot);
    if (!status.update->failure.empty()) text += " (" + status.update->failure + ")";
  }
  text += "\n";
  if (status.last_update) {
    const UpdateRecord& last = *status.last_update;
    text += "last update: " + (last.from_version.empty() ? "?" : last.from_version) + " -> " +
            last.version + " in slot " + std::string(1, last.slot) + ": " +
            std::string(outcome_name(last.outcome));
    if (!last.reason.empty()) text += " (" + last.reason + ")";
    text += "\n";
  }
  if (status.last_poll) {
    text += "last poll: " + status.last_poll->at + (status.last_poll->ok ? ": " : ": FAILED: ") +
            status.last_poll->message + "\n";
  }
  return text;
}

}  // namespace cairn::updater
