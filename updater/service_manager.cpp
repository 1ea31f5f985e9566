#include "updater/service_manager.hpp"

#include <cstring>

#include "updater/sd_bus_ptr.hpp"

namespace cairn::updater {

namespace {

constexpr const char* kSystemd = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";

}  // namespace

Expected<std::vector<std::string>> SystemdManager::failed_units() {
  auto bus = CAIRN_TRY(open_system_bus());
  ScopedBusError error;
  sd_bus_message* raw_request = nullptr;
  int r = sd_bus_message_new_method_call(bus.get(), &raw_request, kSystemd, kManagerPath, kManager,
                                         "ListUnitsFiltered");
  BusMessage request(raw_request);
  char failed[] = "failed";
  char* states[] = {failed, nullptr};
  if (r >= 0) r = sd_bus_message_append_strv(request.get(), states);
  sd_bus_message* raw_reply = nullptr;
  if (r >= 0) r = sd_bus_call(bus.get(), request.get(), 0, &error.error, &raw_reply);
  BusMessage reply(raw_reply);
  if (r < 0) return fail(Errc::unavailable, "listing failed units: " + error.describe(r));
  std::vector<std::string> units;
  r = sd_bus_message_enter_container(reply.get(), 'a', "(ssssssouso)");
  while (r > 0) {
    const char* name = nullptr;
    r = sd_bus_message_read(reply.get(), "(ssssssouso)", &name, nullptr, nullptr, nullptr, nullptr,
                            nullptr, nullptr, nullptr, nullptr, nullptr);
    if (r > 0) units.emplace_back(name);
  }
  if (r < 0) return fail_errno("reading the failed units", -r);
  return units;
}

Expected<std::string> SystemdManager::active_state(const std::string& unit) {
  auto bus = CAIRN_TRY(open_system_bus());
  ScopedBusError error;
  sd_bus_message* raw_reply = nullptr;
  // LoadUnit answers for units that are not running too; LoadState says whether it exists.
  int r = sd_bus_call_method(bus.get(), kSystemd, kManagerPath, kManager, "LoadUnit", &error.error,
                             &raw_reply, "s", unit.c_str());
  BusMessage reply(raw_reply);
  if (r < 0) return fail(Errc::unavailable, "looking up " + unit + ": " + error.describe(r));
  const char* path = nullptr;
  if (r = sd_bus_message_read(reply.get(), "o", &path); r < 0) {
    return fail_errno("reading the unit path of " + unit, -r);
  }
  auto property = [&](const char* name) -> Expected<std::string> {
    ScopedBusError property_error;
    char* value = nullptr;
    int rr = sd_bus_get_property_string(bus.get(), kSystemd, path, "org.freedesktop.systemd1.Unit",
                                        name, &property_error.error, &value);
    if (rr < 0) {
      return fail(Errc::unavailable, std::string("reading ") + name + " of " + unit + ": " +
                                         property_error.describe(rr));
    }
    std::string text = value;
    free(value);
    return text;
  };
  if (CAIRN_TRY(property("LoadState")) == "not-found") return std::string();
  return property("ActiveState");
}

Status SystemdManager::reboot() {
  auto bus = CAIRN_TRY(open_system_bus());
  ScopedBusError error;
  sd_bus_message* raw_reply = nullptr;
  int r = sd_bus_call_method(bus.get(), kSystemd, kManagerPath, kManager, "StartUnit", &error.error,
                             &raw_reply, "ss", "reboot.target", "replace-irreversibly");
  BusMessage reply(raw_reply);
  if (r < 0) return fail(Errc::unavailable, "asking systemd to reboot: " + error.describe(r));
  return {};
}

}  // namespace cairn::updater
