#include "updater/dbus_service.hpp"

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include <cctype>
#include <csignal>
#include <nlohmann/json.hpp>

#include "updater/fleet_agent.hpp"
#include "updater/history.hpp"
#include "updater/install_job.hpp"
#include "updater/poll_trigger.hpp"
#include "updater/sd_bus_ptr.hpp"
#include "updater/status.hpp"

namespace cairn::updater {

namespace {

struct SlotUnref {
  void operator()(sd_bus_slot* slot) const { sd_bus_slot_unref(slot); }
};
struct EventUnref {
  void operator()(sd_event* event) const { sd_event_unref(event); }
};
struct EventSourceUnref {
  void operator()(sd_event_source* source) const { sd_event_source_unref(source); }
};

struct Service {
  HostOptions host;
  std::filesystem::path config_root;
  sd_bus* bus = nullptr;
  std::unique_ptr<InstallJobs> jobs;
  BusMessage job_call;    // the Install() or Poll() call to answer when the job ends
  UniqueFd trigger_call;  // or the poll trigger's connection (poll_trigger.hpp)
  bool job_is_poll = false;
  std::string install_source;
  std::string last_result = "{}";
  PollMemory poll_memory;  // used by one poll at a time: the jobs run one by one
};

int reply_error(sd_bus_error* error, const Error& cause) {
  return sd_bus_error_set(error, bus_error_name(cause.code()).c_str(), cause.describe().c_str());
}

// Everything a change of the host's state can change, for clients that watch properties.
void emit_state_changed(Service& service) {
  sd_bus_emit_properties_changed(service.bus, kObjectPath, kInterface, "Pending", "Phase",
                                 "SecurityFloor", "SlotA", "SlotB", "Status", "History",
                                 "LastResult", "Installing", nullptr);
}

void emit_progress(Service& service, const ProgressEvent& event) {
  double fraction = event.kind == ProgressEvent::Kind::finished ? 1.0
                    : event.total > 0
                        ? static_cast<double>(event.done) / static_cast<double>(event.total)
                        : 0.0;
  std::string kind(progress_kind_name(event.kind));
  sd_bus_emit_signal(service.bus, kObjectPath, kInterface, "Progress", "ssdttd",
                     event.stage.c_str(), kind.c_str(), fraction, event.done, event.total,
                     event.seconds);
}

void reply_with_error(BusMessage& call, const Error& cause) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  reply_error(&error, cause);
  sd_bus_reply_method_error(call.get(), &error);
  sd_bus_error_free(&error);
}

// An Install() job ended: answer the call, tell everyone.
void finish_install(Service& service, Expected<InstallResult> result) {
  nlohmann::json summary{{"source", service.install_source}, {"ok", result.has_value()}};
  if (result) {
    summary["version"] = result->version;
    summary["slot"] = std::string(1, result->slot);
    summary["entry"] = result->entry;
    summary["security_version"] = result->security_version;
  } else {
    summary["error"] = result.error().describe();
    summary["code"] = std::string(errc_name(result.error().code()));
  }
  service.last_result = summary.dump();
  if (service.job_call) {
    if (result) {
      std::string slot(1, result->slot);
      sd_bus_reply_method_return(service.job_call.get(), "ssst", result->version.c_str(),
                                 slot.c_str(), result->entry.c_str(), result->security_version);
    } else {
      reply_with_error(service.job_call, result.error());
    }
    service.job_call.reset();
  }
  sd_bus_emit_signal(
      service.bus, kObjectPath, kInterface, "Completed", "bs", static_cast<int>(result.has_value()),
      result ? ("installed " + result->version).c_str() : result.error().describe().c_str());
  emit_state_changed(service);
}

// A Poll() job ended. A quiet poll (nothing installed) changes nothing the properties show, so
// it emits nothing: every host of a fleet polls, and each emission reads the disk again.
void finish_poll(Service& service, Expected<PollResult> result) {
  if (service.trigger_call) {
    send_poll_trigger_answer(std::move(service.trigger_call), poll_trigger_answer(result));
  }
  if (service.job_call) {
    if (result) {
      sd_bus_reply_method_return(service.job_call.get(), "ssb", result->message.c_str(),
                                 result->installed.value_or("").c_str(),
                                 static_cast<int>(result->rebooting));
    } else {
      reply_with_error(service.job_call, result.error());
    }
    service.job_call.reset();
  }
  if (result && result->installed) {
    service.last_result = nlohmann::json{
        {"source", "poll"},
        {"ok", true},
        {"version", *result->installed},
        {"message",
         result->message}}.dump();
    sd_bus_emit_signal(service.bus, kObjectPath, kInterface, "Completed", "bs", 1,
                       ("installed " + *result->installed).c_str());
    emit_state_changed(service);
  }
}

void finish_job(Service& service, Expected<JobResult> result) {
  if (!result && service.job_is_poll) return finish_poll(service, std::unexpected(result.error()));
  if (!result) return finish_install(service, std::unexpected(result.error()));
  if (auto* polled = std::get_if<PollResult>(&*result)) return finish_poll(service, *polled);
  finish_install(service, std::get<InstallResult>(*result));
}

int on_job_wake(sd_event_source*, int, uint32_t, void* userdata) {
  auto& service = *static_cast<Service*>(userdata);
  for (const auto& event : service.jobs->take_events()) emit_progress(service, event);
  if (auto result = service.jobs->take_result()) finish_job(service, std::move(*result));
  return 0;
}

int method_install(sd_bus_message* message, void* userdata, sd_bus_error* error) {
  auto& service = *static_cast<Service*>(userdata);
  const char* source = nullptr;
  if (int r = sd_bus_message_read(message, "s", &source); r < 0) return r;
  HostOptions host = service.host;
  std::string wanted = source;
  auto started = service.jobs->start([host, wanted](Progress& progress, std::stop_token stop) {
    return run_install(wanted, host, progress, stop);
  });
  // A second Install is answered at once; the first one goes on.
  if (!started) return reply_error(error, started.error());
  service.job_call.reset(sd_bus_message_ref(message));
  service.job_is_poll = false;
  service.install_source = wanted;
  sd_bus_emit_properties_changed(service.bus, kObjectPath, kInterface, "Installing", nullptr);
  return 1;  // answered when the job ends
}

// A poll on the install thread: update.toml read at every poll (a changed one needs no restart).
Status start_poll(Service& service) {
  return service.jobs->start(
      [host = service.host, root = service.config_root, memory = &service.poll_memory](
          Progress& progress, std::stop_token stop) -> Expected<JobResult> {
        auto config = CAIRN_TRY(load_update_config(root));
        return CAIRN_TRY(run_poll(host, config, progress, stop, memory));
      });
}

int method_poll(sd_bus_message* message, void* userdata, sd_bus_error* error) {
  auto& service = *static_cast<Service*>(userdata);
  if (auto started = start_poll(service); !started) return reply_error(error, started.error());
  service.job_call.reset(sd_bus_message_ref(message));
  service.job_is_poll = true;
  return 1;  // answered when the poll ends
}

// The timer's poll trigger connected: the same poll, answered on the connection.
int on_poll_trigger(sd_event_source*, int fd, uint32_t, void* userdata) {
  auto& service = *static_cast<Service*>(userdata);
  auto connection = accept_poll_trigger(fd);
  if (!connection) return 0;  // refused (and told so), or gone already
  if (auto started = start_poll(service); !started) {
    send_poll_trigger_answer(std::move(*connection),
                             poll_trigger_answer(std::unexpected(started.error())));
    return 0;
  }
  service.trigger_call = std::move(*connection);
  service.job_is_poll = true;
  return 0;
}

int method_cancel(sd_bus_message* message, void* userdata, sd_bus_error* error) {
  auto& service = *static_cast<Service*>(userdata);
  if (!service.jobs->cancel()) {
    return reply_error(error, Error(Errc::invalid_input, "no install is running"));
  }
  return sd_bus_reply_method_return(message, "");
}

int method_mark(sd_bus_message* message, void* userdata, sd_bus_error* error) {
  auto& service = *static_cast<Service*>(userdata);
  bool good = std::string_view(sd_bus_message_get_member(message)) == "MarkGood";
  auto status = good ? mark_good(service.host) : mark_bad(service.host);
  if (!status) return reply_error(error, status.error());
  emit_state_changed(service);
  return sd_bus_reply_method_return(message, "");
}

int method_rollback(sd_bus_message* message, void* userdata, sd_bus_error* error) {
  auto& service = *static_cast<Service*>(userdata);
  auto plan = rollback(service.host);
  if (!plan) return reply_error(error, plan.error());
  emit_state_changed(service);
  std::string slot(1, plan->to_slot);
  return sd_bus_reply_method_return(message, "ss", plan->to_version.c_str(), slot.c_str());
}

// The daemon's own host options: a client passing others is not talking about this host.
nlohmann::json host_json(const HostOptions& host) {
  return {{"disk", host.disk.string()},   {"state", host.state.string()},
          {"trust", host.trust.string()}, {"esp", host.esp.string()},
          {"booted", host.booted},        {"machine_class", host.machine_class}};
}

int property_get(sd_bus*, const char*, const char*, const char* property, sd_bus_message* reply,
                 void* userdata, sd_bus_error* error) {
  auto& service = *static_cast<Service*>(userdata);
  std::string_view name = property;
  if (name == "LastResult") return sd_bus_message_append(reply, "s", service.last_result.c_str());
  if (name == "Installing") return sd_bus_message_append(reply, "b", service.jobs->running());
  if (name == "Host")
    return sd_bus_message_append(reply, "s", host_json(service.host).dump().c_str());
  if (name == "History") {
    auto history = History::load(service.host.state);
    if (!history) return reply_error(error, history.error());
    return sd_bus_message_append(reply, "s", history->to_json().dump().c_str());
  }
  // Everything else is the one status view the CLI prints too.
  auto status = read_status(service.host);
  if (!status) return reply_error(error, status.error());
  if (name == "Status")
    return sd_bus_message_append(reply, "s", status_json(*status).dump().c_str());
  if (name == "SecurityFloor") return sd_bus_message_append(reply, "t", status->security_floor);
  if (name == "Phase") {
    return sd_bus_message_append(reply, "s", std::string(phase_name(status->phase)).c_str());
  }
  if (name == "Pending") {
    std::string pending =
        status->update ? std::string(1, status->update->slot) + " " + status->update->version : "";
    return sd_bus_message_append(reply, "s", pending.c_str());
  }
  if (name == "Booted") {
    std::string value = status->booted ? std::string(1, *status->booted) : "";
    return sd_bus_message_append(reply, "s", value.c_str());
  }
  return sd_bus_message_append(reply, "s",
                               status->slot(name == "SlotB" ? 'B' : 'A').version.c_str());
}

const sd_bus_vtable kVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_NAMES("Install", "s", SD_BUS_PARAM(source), "ssst",
                             SD_BUS_PARAM(version) SD_BUS_PARAM(slot) SD_BUS_PARAM(entry)
                                 SD_BUS_PARAM(security_version),
                             method_install, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("Poll", "", "", "ssb",
                             SD_BUS_PARAM(message) SD_BUS_PARAM(installed) SD_BUS_PARAM(rebooting),
                             method_poll, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Cancel", "", "", method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("MarkGood", "", "", method_mark, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("MarkBad", "", "", method_mark, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("Rollback", "", "", "ss", SD_BUS_PARAM(version) SD_BUS_PARAM(slot),
                             method_rollback, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_PROPERTY("SlotA", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
    SD_BUS_PROPERTY("SlotB", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
    SD_BUS_PROPERTY("Booted", "s", property_get, 0, 0),
    SD_BUS_PROPERTY("Pending", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Phase", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("SecurityFloor", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Installing", "b", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LastResult", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    // `cairn-update status --json` and `history --json`, as properties.
    SD_BUS_PROPERTY("Status", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
    SD_BUS_PROPERTY("History", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
    SD_BUS_PROPERTY("Host", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_SIGNAL_WITH_NAMES("Progress", "ssdttd",
                             SD_BUS_PARAM(stage) SD_BUS_PARAM(event) SD_BUS_PARAM(fraction)
                                 SD_BUS_PARAM(bytes_done) SD_BUS_PARAM(bytes_total)
                                     SD_BUS_PARAM(seconds),
                             0),
    SD_BUS_SIGNAL_WITH_NAMES("Completed", "bs", SD_BUS_PARAM(success) SD_BUS_PARAM(message), 0),
    SD_BUS_VTABLE_END};

Status bus_error(int r, const std::string& what) { return fail_errno("D-Bus: " + what, -r); }

}  // namespace

std::string bus_error_name(Errc code) {
  std::string name = std::string(kInterface) + ".Error.";
  bool upper = true;
  for (char c : errc_name(code)) {
    if (c == '-' || c == '_') {
      upper = true;
      continue;
    }
    name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return name;
}

Status run_daemon(const HostOptions& host, const std::filesystem::path& config_root) {
  Service service{
      .host = host, .config_root = config_root, .jobs = CAIRN_TRY(InstallJobs::create())};
  sd_bus* raw_bus = nullptr;
  if (int r = sd_bus_open_system(&raw_bus); r < 0) {
    return bus_error(r, "connecting to the system bus");
  }
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
  sd_event_source* raw_wake = nullptr;
  if (int r = sd_event_add_io(event.get(), &raw_wake, service.jobs->wake_fd(), EPOLLIN, on_job_wake,
                              &service);
      r < 0) {
    return bus_error(r, "watching the install thread");
  }
  std::unique_ptr<sd_event_source, EventSourceUnref> wake(raw_wake);
  sd_event_source* raw_trigger = nullptr;
  if (auto listening = passed_poll_trigger()) {
    if (int r = sd_event_add_io(event.get(), &raw_trigger, *listening, EPOLLIN, on_poll_trigger,
                                &service);
        r < 0) {
      return bus_error(r, "watching the poll trigger socket");
    }
  }
  std::unique_ptr<sd_event_source, EventSourceUnref> trigger(raw_trigger);
  if (int r = sd_bus_attach_event(bus.get(), event.get(), SD_EVENT_PRIORITY_NORMAL); r < 0) {
    return bus_error(r, "attaching the bus to the event loop");
  }
  sd_notify(0, "READY=1\nSTATUS=Waiting for bundles");
  int r = sd_event_loop(event.get());
  sd_notify(0, "STOPPING=1");
  // An install still running is cancelled (its target left unbootable) before the process ends.
  service.jobs->cancel();
  service.jobs.reset();
  if (r < 0) return bus_error(r, "event loop");
  return {};
}

}  // namespace cairn::updater
