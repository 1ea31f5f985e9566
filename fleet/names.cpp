// The names the channel index and the fleet store carry for their enums.
#include "common/enum_names.hpp"
#include "fleet/channel_index.hpp"
#include "fleet/fleet_store.hpp"

namespace cairn::fleet {
namespace {

constexpr std::pair<EntryState, std::string_view> kEntryStates[] = {
    {EntryState::active, "active"}, {EntryState::paused, "paused"}, {EntryState::pulled, "pulled"}};
constexpr std::pair<OutcomeKind, std::string_view> kOutcomeKinds[] = {
    {OutcomeKind::committed, "committed"}, {OutcomeKind::rolled_back, "rolled-back"}};
constexpr std::pair<ControlState, std::string_view> kControlStates[] = {
    {ControlState::halted, "halted"},
    {ControlState::paused, "paused"},
    {ControlState::pulled, "pulled"}};

}  // namespace

std::string_view entry_state_name(EntryState state) { return enum_name(kEntryStates, state); }

Expected<EntryState> parse_entry_state(std::string_view name) {
  if (auto state = enum_from_name(kEntryStates, name)) return *state;
  return fail(Errc::invalid_input,
              "state \"" + std::string(name) + "\" is none of active, paused, pulled");
}

std::string_view outcome_kind_name(OutcomeKind kind) { return enum_name(kOutcomeKinds, kind); }

Expected<OutcomeKind> parse_outcome_kind(std::string_view name) {
  if (auto kind = enum_from_name(kOutcomeKinds, name)) return *kind;
  return fail(Errc::invalid_input,
              "outcome \"" + std::string(name) + "\" is neither committed nor rolled-back");
}

std::string_view control_state_name(ControlState state) { return enum_name(kControlStates, state); }

Expected<ControlState> parse_control_state(std::string_view name) {
  if (auto state = enum_from_name(kControlStates, name)) return *state;
  return fail(Errc::invalid_input,
              "state \"" + std::string(name) + "\" is none of halted, paused, pulled");
}

}  // namespace cairn::fleet
