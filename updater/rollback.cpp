#include "updater/rollback.hpp"

#include <algorithm>

namespace cairn::updater {

namespace {

std::string slot_text(char slot, const std::string& version) {
  return std::string("slot ") + slot + " (" + version + ")";
}

}  // namespace

Expected<RollbackPlan> plan_rollback(const SlotLayout& layout, char booted, const HostState& state,
                                     const std::vector<std::string>& entries) {
  const Slot& running = layout.slot(booted);
  const Slot& other = layout.other(booted);
  RollbackPlan plan{.from_slot = running.name,
                    .from_version = running.version(),
                    .to_slot = other.name,
                    .to_version = other.version()};
  if (plan.to_version.empty()) {
    return fail(Errc::not_found, std::string("slot ") + other.name +
                                     " holds no version (empty or retired): nothing to roll "
                                     "back to");
  }
  if (state.pending && state.pending->slot == other.name) {
    return fail(Errc::invalid_input,
                slot_text(other.name, plan.to_version) +
                    " was just installed and never booted: reboot to try it, or mark-bad to "
                    "drop it");
  }
  auto find = [&](const std::string& version) -> std::optional<std::string> {
    auto it = std::ranges::find_if(
        entries, [&](const std::string& entry) { return entry_is_version(entry, version); });
    if (it == entries.end()) return std::nullopt;
    return *it;
  };
  auto target_entry = find(plan.to_version);
  if (!target_entry) {
    return fail(Errc::not_found, slot_text(other.name, plan.to_version) +
                                     " has no boot entry on the ESP: install its bundle again");
  }
  if (*target_entry != new_entry_name(plan.to_version)) {
    plan.renames.push_back({*target_entry, new_entry_name(plan.to_version)});
  }
  // The running entry: without it (removed by hand) the other slot is the default already.
  if (auto running_entry = find(plan.from_version);
      running_entry && *running_entry != spent_entry_name(plan.from_version)) {
    plan.renames.push_back({*running_entry, spent_entry_name(plan.from_version)});
  }
  return plan;
}

}  // namespace cairn::updater
