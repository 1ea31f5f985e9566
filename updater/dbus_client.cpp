#include "updater/dbus_client.hpp"

#include <systemd/sd-bus.h>

#include <chrono>
#include <cstring>
#include <memory>

#include "updater/dbus_service.hpp"
#include "updater/sd_bus_ptr.hpp"

namespace cairn::updater {

namespace {

// A D-Bus error from the daemon back into an Error with the same Errc.
Error from_bus_error(const sd_bus_error* error, int r) {
  std::string name = error && error->name ? error->name : "";
  std::string message = error && error->message ? error->message : std::strerror(-r);
  Errc code = Errc::process;
  if (name.starts_with(std::string(kInterface) + ".Error.")) {
    for (int i = 1; i <= static_cast<int>(kLastErrc); ++i) {
      if (bus_error_name(static_cast<Errc>(i)) == name) code = static_cast<Errc>(i);
    }
  } else if (name == SD_BUS_ERROR_ACCESS_DENIED) {
    code = Errc::permission;
  }
  return Error(code, message);
}

struct Call {
  Progress* progress;
  bool done = false;
  Expected<InstallResult> result = fail(Errc::internal, "no answer");
};

// The daemon's Progress signal, back into the same Progress calls a local install makes.
int on_progress(sd_bus_message* message, void* userdata, sd_bus_error*) {
  auto* call = static_cast<Call*>(userdata);
  const char* stage = nullptr;
  const char* event = nullptr;
  double fraction = 0, seconds = 0;
  std::uint64_t done = 0, total = 0;
  if (sd_bus_message_read(message, "ssdttd", &stage, &event, &fraction, &done, &total, &seconds) <
      0) {
    return 0;
  }
  std::string_view kind = event;
  if (kind == "started") {
    call->progress->stage_started(stage);
  } else if (kind == "finished") {
    call->progress->stage_finished(stage, std::chrono::duration<double>(seconds));
  } else {
    call->progress->stage_bytes(stage, done, total);
  }
  return 0;
}

int on_reply(sd_bus_message* reply, void* userdata, sd_bus_error*) {
  auto* call = static_cast<Call*>(userdata);
  call->done = true;
  if (sd_bus_message_is_method_error(reply, nullptr)) {
    call->result = std::unexpected(from_bus_error(sd_bus_message_get_error(reply), -EIO));
    return 0;
  }
  const char* version = nullptr;
  const char* slot = nullptr;
  const char* entry = nullptr;
  std::uint64_t security_version = 0;
  if (sd_bus_message_read(reply, "ssst", &version, &slot, &entry, &security_version) < 0 ||
      slot[0] == 0) {
    call->result = fail(Errc::process, "unexpected reply from " + std::string(kBusName));
    return 0;
  }
  call->result = InstallResult{
      .slot = slot[0], .version = version, .entry = entry, .security_version = security_version};
  return 0;
}

}  // namespace

bool daemon_available() {
  auto bus = open_system_bus();
  if (!bus) return false;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(bus->get(), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "NameHasOwner", &error, &reply, "s", kBusName);
  int owned = 0;
  if (r >= 0) sd_bus_message_read(reply, "b", &owned);
  sd_bus_message_unref(reply);
  sd_bus_error_free(&error);
  return owned != 0;
}

Expected<InstallResult> install_via_daemon(const std::string& source, Progress& progress) {
  auto bus = CAIRN_TRY(open_system_bus());
  Call call{.progress = &progress};
  std::string rule = "type='signal',sender='" + std::string(kBusName) + "',interface='" +
                     kInterface + "',member='Progress'";
  sd_bus_slot* match = nullptr;
  if (int r = sd_bus_add_match(bus.get(), &match, rule.c_str(), on_progress, &call); r < 0) {
    return fail_errno("subscribing to progress", -r);
  }
  sd_bus_slot* pending = nullptr;
  // Installs take as long as the disk and the network make them (Progress signals show they
  // are alive): not sd-bus's 25 s default but a day, the daemon's own limit being the transfer
  // stall timeout.
  constexpr std::uint64_t kInstallTimeoutUsec = 24ULL * 3600 * 1000 * 1000;
  sd_bus_message* raw_request = nullptr;
  int r = sd_bus_message_new_method_call(bus.get(), &raw_request, kBusName, kObjectPath, kInterface,
                                         "Install");
  BusMessage request(raw_request);
  if (r >= 0) r = sd_bus_message_append(request.get(), "s", source.c_str());
  if (r >= 0) {
    r = sd_bus_call_async(bus.get(), &pending, request.get(), on_reply, &call, kInstallTimeoutUsec);
  }
  if (r < 0) {
    sd_bus_slot_unref(match);
    return fail_errno("calling Install", -r);
  }
  sd_bus_slot_set_floating(pending, 1);
  while (!call.done) {
    r = sd_bus_process(bus.get(), nullptr);
    if (r < 0) {
      sd_bus_slot_unref(match);
      return fail_errno("talking to " + std::string(kBusName), -r);
    }
    if (r == 0) sd_bus_wait(bus.get(), UINT64_MAX);
  }
  sd_bus_slot_unref(match);
  return call.result;
}

Expected<PollResult> poll_via_daemon() {
  auto bus = CAIRN_TRY(open_system_bus());
  sd_bus_message* raw_request = nullptr;
  int r = sd_bus_message_new_method_call(bus.get(), &raw_request, kBusName, kObjectPath, kInterface,
                                         "Poll");
  BusMessage request(raw_request);
  if (r < 0) return fail_errno("calling Poll", -r);
  // A poll that installs takes as long as an install (see install_via_daemon).
  constexpr std::uint64_t kPollTimeoutUsec = 24ULL * 3600 * 1000 * 1000;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* raw_reply = nullptr;
  r = sd_bus_call(bus.get(), request.get(), kPollTimeoutUsec, &error, &raw_reply);
  BusMessage reply(raw_reply);
  if (r < 0) {
    Error cause = from_bus_error(&error, r);
    sd_bus_error_free(&error);
    return std::unexpected(cause);
  }
  const char* message = nullptr;
  const char* installed = nullptr;
  int rebooting = 0;
  if (sd_bus_message_read(reply.get(), "ssb", &message, &installed, &rebooting) < 0) {
    return fail(Errc::process, "unexpected Poll reply from " + std::string(kBusName));
  }
  PollResult result{.message = message, .rebooting = rebooting != 0};
  if (*installed != 0) result.installed = installed;
  return result;
}

Status call_daemon(const char* method) {
  auto bus = CAIRN_TRY(open_system_bus());
  sd_bus_error error = SD_BUS_ERROR_NULL;
  int r =
      sd_bus_call_method(bus.get(), kBusName, kObjectPath, kInterface, method, &error, nullptr, "");
  if (r < 0) {
    Error cause = from_bus_error(&error, r);
    sd_bus_error_free(&error);
    return std::unexpected(cause);
  }
  return {};
}

Expected<nlohmann::json> daemon_host() {
  auto bus = CAIRN_TRY(open_system_bus());
  ScopedBusError error;
  char* text = nullptr;
  int r = sd_bus_get_property_string(bus.get(), kBusName, kObjectPath, kInterface, "Host",
                                     &error.error, &text);
  if (r < 0) return fail(Errc::unavailable, "reading the daemon's Host: " + error.describe(r));
  std::unique_ptr<char, decltype(&free)> owned(text, free);
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) return fail(Errc::process, "the daemon's Host is not a JSON object");
  return json;
}

Expected<std::pair<char, std::string>> rollback_via_daemon() {
  auto bus = CAIRN_TRY(open_system_bus());
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(bus.get(), kBusName, kObjectPath, kInterface, "Rollback", &error,
                             &reply, "");
  if (r < 0) {
    Error cause = from_bus_error(&error, r);
    sd_bus_error_free(&error);
    return std::unexpected(cause);
  }
  const char* version = nullptr;
  const char* slot = nullptr;
  r = sd_bus_message_read(reply, "ss", &version, &slot);
  std::pair<char, std::string> out{slot && *slot ? slot[0] : '?', version ? version : ""};
  sd_bus_message_unref(reply);
  if (r < 0) return fail_errno("reading the Rollback reply", -r);
  return out;
}

}  // namespace cairn::updater
