// One view of where a host stands, for `cairn-update status` and the D-Bus properties alike:
// the slots (a version counts only while its boot entry exists), the running slot, the floor,
// the lifecycle's phase and update, and how the last update ended. Reading it takes no lock, so
// it answers while an install runs.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "updater/history.hpp"
#include "updater/host.hpp"
#include "updater/poll_state.hpp"

namespace cairn::updater {

struct SlotStatus {
  char name = 'A';
  std::string version;  // empty: empty, retired, or its entry is gone
  std::string partuuid;
  std::string entry;  // its boot entry's file name
  std::string label;  // the GPT name, as written
};

struct HostStatus {
  std::string disk;
  std::optional<char> booted;
  std::string booted_unknown;  // why `booted` is empty
  SlotStatus a, b;
  std::uint64_t security_floor = 0;
  Phase phase = Phase::idle;
  std::optional<PendingSlot> update;
  std::optional<UpdateRecord> last_update;
  std::optional<LastPoll> last_poll;  // the fleet's: `cairn-update poll`

  const SlotStatus& slot(char name) const { return name == 'B' ? b : a; }
};

Expected<HostStatus> read_status(const HostOptions& host);

nlohmann::json status_json(const HostStatus& status);
std::string status_text(const HostStatus& status);

}  // namespace cairn::updater
