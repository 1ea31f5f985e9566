// Where the QEMU tests find their inputs (set by tests/qemu/CMakeLists.txt) and the prepared
// firmware state they share.
#pragma once

#include <filesystem>
#include <string>

#include "common/error.hpp"
#include "machine.hpp"

namespace cairn::qemu {

struct TestEnvironment {
  std::filesystem::path qtest_dir;   // $CAIRN_QTEST: build/qtest
  std::filesystem::path source_dir;  // $CAIRN_SOURCE

  static Expected<TestEnvironment> from_env();

  std::filesystem::path image_dir(const std::string& version = "1.0.0") const;
  std::filesystem::path disk(const std::string& version = "1.0.0") const;
  std::filesystem::path keys_dir() const { return qtest_dir / "keys"; }
  // The cairn-build these tests run on the host side ($CAIRN_BUILD, else this build tree's).
  std::filesystem::path cairn_build() const;
  // The cairn-verifier the attestation tests run on the host side ($CAIRN_VERIFIER, else this
  // build tree's).
  std::filesystem::path cairn_verifier() const;
  std::filesystem::path ssh_key() const { return qtest_dir / "ssh/id_ed25519"; }
  std::filesystem::path machine_dir(const std::string& name) const {
    return qtest_dir / "machines" / name;
  }

  // Options for a machine booting `disk` in user mode with Cairn's keys enrolled.
  MachineOptions machine(const std::string& name, const std::filesystem::path& disk) const;
};

// An OVMF variable store with the image's PK, KEK and db enrolled, made once per key set: boots
// the image in setup mode, where systemd-boot enrolls loader/keys/auto and resets the machine.
// `disk` must carry those keys on its ESP.
Expected<std::filesystem::path> enrolled_vars(const TestEnvironment& env,
                                              const std::filesystem::path& disk);

// Prints a "<what>: <seconds> s" line on stdout (ctest shows it with -V and in the log).
void report_time(const std::string& what, double seconds);

}  // namespace cairn::qemu
