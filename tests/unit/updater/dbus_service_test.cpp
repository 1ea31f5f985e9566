#include "updater/dbus_service.hpp"

#include <catch2/catch.hpp>
#include <regex>
#include <set>

using namespace cairn;
using namespace cairn::updater;

// sd-bus aborts on an invalid error name, which once took the daemon down with a refused
// install: every error kind must map to a valid, distinct D-Bus name.
TEST_CASE("every error kind has a valid and distinct D-Bus error name", "[dbus]") {
  const std::regex valid(R"(([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)+)");
  std::set<std::string> names;
  for (int i = 1; i <= static_cast<int>(kLastErrc); ++i) {
    auto name = bus_error_name(static_cast<Errc>(i));
    INFO(name);
    CHECK(std::regex_match(name, valid));
    CHECK(name.size() <= 255);
    CHECK(names.insert(name).second);
  }
  CHECK(bus_error_name(Errc::invalid_input) == "org.cairn.Update1.Error.InvalidInput");
}
