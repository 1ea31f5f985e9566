// Owning handles for sd-bus objects (every C handle lives in a unique_ptr with its free function).
#pragma once

#include <systemd/sd-bus.h>

#include <cstring>
#include <memory>
#include <string>

#include "common/error.hpp"

namespace cairn::updater {

struct BusUnref {
  void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
struct BusMessageUnref {
  void operator()(sd_bus_message* message) const { sd_bus_message_unref(message); }
};
using Bus = std::unique_ptr<sd_bus, BusUnref>;
using BusMessage = std::unique_ptr<sd_bus_message, BusMessageUnref>;

// Frees an sd_bus_error's strings when it goes out of scope.
struct ScopedBusError {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  ScopedBusError() = default;
  ScopedBusError(const ScopedBusError&) = delete;
  ScopedBusError& operator=(const ScopedBusError&) = delete;
  ~ScopedBusError() { sd_bus_error_free(&error); }
  // "message (org.freedesktop…Error.Name)", or strerror of r.
  std::string describe(int r) const {
    if (error.message == nullptr) return std::strerror(-r);
    std::string text = error.message;
    if (error.name) text += std::string(" (") + error.name + ")";
    return text;
  }
};

inline Expected<Bus> open_system_bus() {
  sd_bus* bus = nullptr;
  if (int r = sd_bus_open_system(&bus); r < 0) {
    return fail_errno("connecting to the system bus", -r);
  }
  return Bus(bus);
}

}  // namespace cairn::updater
