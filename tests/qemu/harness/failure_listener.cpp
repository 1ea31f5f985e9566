// On the first failed assertion of a test, every machine still running gets its logs collected
// and printed (guest journal saved, console tail shown), before the RAII teardown stops it.
#define CATCH_CONFIG_EXTERNAL_INTERFACES  // Catch2 v2: the listener base classes
#include <catch2/catch.hpp>
#include <iostream>
#include <set>

#include "machine.hpp"

namespace cairn::qemu {

class MachineLogListener : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(Catch::TestCaseInfo const& info) override {
    collected_.clear();
    TestEventListenerBase::testCaseStarting(info);
  }

  bool assertionEnded(Catch::AssertionStats const& stats) override {
    if (!stats.assertionResult.isOk()) {
      // First what failed (CI logs may show only a window of the output), then the machines.
      const auto& result = stats.assertionResult;
      std::cerr << "---- FAILED at " << result.getSourceInfo().file << ":"
                << result.getSourceInfo().line << ": "
                << (result.hasMessage() ? result.getMessage() : result.getExpressionInMacro())
                << "\n";
      for (Machine* machine : live_machines_snapshot()) {
        if (collected_.insert(machine->options().name).second) {
          std::cerr << "---- logs of " << machine->collect_logs() << "----\n";
        }
      }
    }
    return TestEventListenerBase::assertionEnded(stats);
  }

 private:
  std::set<std::string> collected_;
};

CATCH_REGISTER_LISTENER(MachineLogListener)

}  // namespace cairn::qemu
