#include "updater/dbus_service.hpp"

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include <cctype>
#include <csignal>
#include <nlohmann/json.hpp>

#include "updater/history.hpp"
#include "updater/sd_bus_ptr.hpp"

namespace cairn::updater {

namespace {

struct SlotUnref {
  void operator()(sd_bus_slot* slot) const { sd_bus_slot_unref(slot); }
};
struct EventUnref {
  void operator()(sd_event* event) const { sd_event_unref(event); }
};

struct Service {
  HostOptions host;
  sd_bus* bus = nullptr;
  std::string last_result = "{}";
};

// Progress as D-Bus signals, flushed at once so clients see them while the install runs.
class SignalProgress final : public Progress {
 public:
  explicit SignalProgress(sd_bus* bus) : bus_(bus) {}
  void stage_started(std::string_view stage) override { emit(stage, 0.0); }
  void stage_detail(std::string_view, std::string_view) override {}
  void stage_fraction(std::string_view stage, double fraction) override {
    if (fraction - last_ < 0.01 && fraction < 1.0) return;
    emit(stage, fraction);
  }
  void stage_finished(std::string_view stage, std::chrono::duration<double>) override {
    emit(stage, 1.0);
  }

 private:
  void emit(std::string_view stage, double fraction) {
    last_ = fraction;
    std::string name(stage);
    sd_bus_emit_signal(bus_, kObjectPath, kInterface, "Progress", "sd", name.c_str(), fraction);
    sd_bus_flush(bus_);
  }
  sd_bus* bus_;
  double last_ = 0;
};

int reply_error(sd_bus_error* error, const Error& cause) {
  return sd_bus_error_set(error, bus_error_name(cause.code()).c_str(), cause.describe().c_str());
}

int method_install(sd_bus_message* message, void* userdata, sd_bus_error* error) {
  auto* service = static_cast<Service*>(userdata);
  const char* source = nullptr;
  if (int r = sd_bus_message_read(message, "s", &source); r < 0) return r;
  SignalProgress progress(service->bus);
  auto result = run_install(source, service->host, progress);
  nlohmann::json summary{{"source", source}, {"ok", result.has_value()}};
  if (result) {
    summary["version"] = result->version;
    summary["slot"] = std::string(1, result->slot);
  } else {
    summary["error"] = result.error().describe();
  }
  service->last_result = summary.dump();
  sd_bus_emit_signal(
      service->bus, kObjectPath, kInterface, "Completed", "bs",
      static_cast<int>(result.has_value()),
      result ? ("installed " + result->version).c_str() : result.error().describe().c_str());
  sd_bus_emit_properties_changed(service->bus, kObjectPath, kInterface, "LastResult", "Pending",
                                 "SlotA", "SlotB", "History", nullptr);
  if (!result) return reply_error(error, result.error());
  std::string slot(1, result->slot);
  return sd_bus_reply_method_return(message, "ss", result->version.c_str(), slot.c_str());
}

int method_mark_good(sd_bus_message* message, void* userdata, sd_bus_error* error) {
  auto* service = static_cast<Service*>(userdata);
  if (auto status = mark_good(service->host); !status) return reply_error(error, status.error());
  sd_bus_emit_properties_changed(service->bus, kObjectPath, kInterface, "Pending", "SecurityFloor",
                                 nullptr);
  return sd_bus_reply_method_return(message, "");
}

int method_mark_bad(sd_bus_message* message, void* userdata, sd_bus_error* error) {
  auto* service = static_cast<Service*>(userdata);
  if (auto status = mark_bad(service->host); !status) return reply_error(error, status.error());
  sd_bus_emit_properties_changed(service->bus, kObjectPath, kInterface, "Pending", nullptr);
  return sd_bus_reply_method_return(message, "");
}

int method_rollback(sd_bus_message* message, void* userdata, sd_bus_error* error) {
  auto* service = static_cast<Service*>(userdata);
  auto plan = rollback(service->host);
  if (!plan) return reply_error(error, plan.error());
  sd_bus_emit_properties_changed(service->bus, kObjectPath, kInterface, "Pending", nullptr);
  std::string slot(1, plan->to_slot);
  return sd_bus_reply_method_return(message, "ss", plan->to_version.c_str(), slot.c_str());
}

Expected<std::string> slot_version(const HostOptions& host, char name) {
  auto layout = CAIRN_TRY(read_slot_layout(host.disk));
  return layout.slot(name).version();
}

int property_get(sd_bus*, const char*, const char*, const char* property, sd_bus_message* reply,
                 void* userdata, sd_bus_error* error) {
  auto* service = static_cast<Service*>(userdata);
  std::string_view name = property;
  if (name == "LastResult") return sd_bus_message_append(reply, "s", service->last_result.c_str());
  if (name == "History") {
    auto history = History::load(service->host.state);
    if (!history) return reply_error(error, history.error());
    return sd_bus_message_append(reply, "s", history->to_json().dump().c_str());
  }
  if (name == "SecurityFloor" || name == "Pending") {
    auto state = load_state(service->host.state);
    if (!state) return reply_error(error, state.error());
    if (name == "SecurityFloor") return sd_bus_message_append(reply, "t", state->security_floor);
    std::string pending =
        state->pending ? std::string(1, state->pending->slot) + " " + state->pending->version : "";
    return sd_bus_message_append(reply, "s", pending.c_str());
  }
  if (name == "Booted") {
    auto layout = read_slot_layout(service->host.disk);
    if (!layout) return reply_error(error, layout.error());
    auto booted = booted_slot(*layout, service->host.booted);
    std::string value = booted ? std::string(1, *booted) : "";
    return sd_bus_message_append(reply, "s", value.c_str());
  }
  auto version = slot_version(service->host, name == "SlotB" ? 'B' : 'A');
  if (!version) return reply_error(error, version.error());
  return sd_bus_message_append(reply, "s", version->c_str());
}

const sd_bus_vtable kVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_NAMES("Install", "s", SD_BUS_PARAM(source), "ss",
                             SD_BUS_PARAM(version) SD_BUS_PARAM(slot), method_install,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("MarkGood", "", "", method_mark_good, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("MarkBad", "", "", method_mark_bad, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("Rollback", "", "", "ss", SD_BUS_PARAM(version) SD_BUS_PARAM(slot),
                             method_rollback, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_PROPERTY("SlotA", "s", property_get, 0, 0),
    SD_BUS_PROPERTY("SlotB", "s", property_get, 0, 0),
    SD_BUS_PROPERTY("Booted", "s", property_get, 0, 0),
    SD_BUS_PROPERTY("Pending", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("SecurityFloor", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LastResult", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    // The update history as JSON (what `cairn-update history --json` prints).
    SD_BUS_PROPERTY("History", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
    SD_BUS_SIGNAL_WITH_NAMES("Progress", "sd", SD_BUS_PARAM(stage) SD_BUS_PARAM(fraction), 0),
    SD_BUS_SIGNAL_WITH_NAMES("Completed", "bs", SD_BUS_PARAM(success) SD_BUS_PARAM(message), 0),
    SD_BUS_VTABLE_END};

Status bus_error(int r, const std::string& what) { return fail_errno("D-Bus: " + what, -r); }

}  // namespace

std::string bus_error_name(Errc code) {
  std::string name = std::string(kInterface) + ".Error.";
  bool upper = true;
  for (char c : errc_name(code)) {
    if (c == '-') {
      upper = true;
      continue;
    }
    name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return name;
}

Status run_daemon(const HostOptions& host) {
  Service service{.host = host};
  sd_bus* raw_bus = nullptr;
  if (int r = sd_bus_open_system(&raw_bus); r < 0)
    return bus_error(r, "connecting to the system bus");
  std::unique_ptr<sd_bus, BusUnref> bus(raw_bus);
  service.bus = bus.get();
  sd_bus_slot* raw_slot = nullptr;
  if (int r = sd_bus_add_object_vtable(bus.get(), &raw_slot, kObjectPath, kInterface, kVtable,
                                       &service);
      r < 0) {
    return bus_error(r, "publishing " + std::string(kObjectPath));
  }
  std::unique_ptr<sd_bus_slot, SlotUnref> slot(raw_slot);
  if (int r = sd_bus_request_name(bus.get(), kBusName, 0); r < 0) {
    return bus_error(r, std::string("taking the name ") + kBusName);
  }
  sd_event* raw_event = nullptr;
  if (int r = sd_event_default(&raw_event); r < 0) return bus_error(r, "event loop");
  std::unique_ptr<sd_event, EventUnref> event(raw_event);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  sd_event_add_signal(event.get(), nullptr, SIGTERM, nullptr, nullptr);  // default: exit loop
  sd_event_add_signal(event.get(), nullptr, SIGINT, nullptr, nullptr);
  if (int r = sd_bus_attach_event(bus.get(), event.get(), SD_EVENT_PRIORITY_NORMAL); r < 0) {
    return bus_error(r, "attaching the bus to the event loop");
  }
  sd_notify(0, "READY=1\nSTATUS=Waiting for bundles");
  if (int r = sd_event_loop(event.get()); r < 0) return bus_error(r, "event loop");
  sd_notify(0, "STOPPING=1");
  return {};
}

}  // namespace cairn::updater
