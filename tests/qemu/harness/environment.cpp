#include "environment.hpp"

#include <cstdio>
#include <cstdlib>

#include "common/fs.hpp"
#include "common/hash.hpp"

namespace cairn::qemu {

namespace fs = std::filesystem;

namespace {

constexpr const char* kOvmfSetupModeVars = "/usr/share/OVMF/OVMF_VARS_4M.fd";

// $name, else the build tree's default compiled in by CMake.
fs::path env_path(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? fs::path(value) : fs::path(fallback);
}

}  // namespace

Expected<TestEnvironment> TestEnvironment::from_env() {
  TestEnvironment env{.qtest_dir = env_path("CAIRN_QTEST", CAIRN_QTEST_DEFAULT),
                      .source_dir = env_path("CAIRN_SOURCE", CAIRN_SOURCE_DEFAULT)};
  std::error_code ec;
  if (!fs::exists(env.disk(), ec)) {
    return fail(Errc::not_found, "no test image at " + env.disk().string() +
                                     ": run the qemu tests through ctest (-L qemu), whose "
                                     "fixture builds it");
  }
  return env;
}

fs::path TestEnvironment::image_dir(const std::string& version) const {
  return qtest_dir / "out/qemu-test" / version;
}

fs::path TestEnvironment::cairn_build() const {
  return env_path("CAIRN_BUILD", CAIRN_BUILD_BINARY);
}

fs::path TestEnvironment::cairn_verifier() const {
  return env_path("CAIRN_VERIFIER", CAIRN_VERIFIER_BINARY);
}

fs::path TestEnvironment::disk(const std::string& version) const {
  return image_dir(version) / "disk.img";
}

MachineOptions TestEnvironment::machine(const std::string& name, const fs::path& disk) const {
  return {.name = name,
          .disk = disk,
          .work_dir = machine_dir(name),
          .ovmf_vars = {},
          .ssh_key = ssh_key()};
}

Expected<fs::path> enrolled_vars(const TestEnvironment& env, const fs::path& disk) {
  auto pk = CAIRN_TRY(read_file(env.keys_dir() / "PK.auth"));
  fs::path cached =
      env.qtest_dir / "ovmf" / ("OVMF_VARS.enrolled-" + to_hex(sha256(pk)).substr(0, 16) + ".fd");
  std::error_code ec;
  if (fs::exists(cached, ec)) return cached;

  MachineOptions options = env.machine("secure-boot-enroll", disk);
  options.ovmf_vars = kOvmfSetupModeVars;
  options.exit_on_reset = true;
  options.tpm = false;
  auto machine = CAIRN_TRY(Machine::create(options));
  CAIRN_CHECK(machine.start());
  CAIRN_TRY(machine.wait_for_console(std::regex("Enrolling secure boot keys"), 120s));
  int code = CAIRN_TRY(machine.wait_for_exit(120s));
  if (code != 0) {
    return fail(Errc::process, "QEMU exited with " + std::to_string(code) +
                                   " while enrolling Secure Boot keys (console: " +
                                   machine.console_log().string() + ")");
  }
  report_time("Secure Boot key enrollment boot", machine.uptime());
  fs::create_directories(cached.parent_path(), ec);
  fs::path partial = cached.string() + ".partial";
  fs::copy_file(machine.vars(), partial, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(partial, cached, ec);
  if (ec) return fail(Errc::io, "saving " + cached.string() + ": " + ec.message());
  return cached;
}

void report_time(const std::string& what, double seconds) {
  std::printf("%s: %.1f s\n", what.c_str(), seconds);
  std::fflush(stdout);
}

}  // namespace cairn::qemu
