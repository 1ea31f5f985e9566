#include "swtpm.hpp"

#include <thread>

#include "common/process.hpp"

namespace cairn::qemu {

namespace fs = std::filesystem;

namespace {

// Manufactures the TPM once, with the sha256 bank active only, as many server TPMs ship: every
// active bank makes the firmware and systemd-stub hash each boot component again (swtpm's own
// default activates four), and attestation quotes sha256.
Status manufacture(const fs::path& state) {
  std::error_code ec;
  if (fs::exists(state / "tpm2-00.permall", ec)) return {};
  SystemProcessRunner runner;
  return run_step(runner,
                  {.argv = {"swtpm_setup", "--tpm2", "--tpmstate", fs::absolute(state).string(),
                            "--pcr-banks", "sha256", "--overwrite"}},
                  "manufacturing the test TPM in " + state.string());
}

}  // namespace

Expected<Swtpm> Swtpm::start(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir / "state", ec);
  if (ec) return fail(Errc::io, "creating " + dir.string() + ": " + ec.message());
  CAIRN_CHECK(manufacture(dir / "state"));
  fs::path socket = fs::absolute(dir / "swtpm.sock");
  fs::path log = dir / "swtpm.log";
  fs::remove(socket, ec);
  auto process = CAIRN_TRY(testing::BackgroundProcess::start(
      {"swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + fs::absolute(dir / "state").string(),
       "--ctrl", "type=unixio,path=" + socket.string(), "--log", "level=1"},
      log));
  // QEMU connects once at start-up: the socket must exist first.
  for (int i = 0; i < 200 && !fs::exists(socket, ec); ++i) {
    if (!process.running()) {
      return fail(Errc::process, "swtpm exited at start-up (see " + log.string() + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  if (!fs::exists(socket, ec)) {
    return fail(Errc::unavailable, "swtpm did not create " + socket.string() + " within 5 s");
  }
  return Swtpm(std::move(process), socket, log);
}

}  // namespace cairn::qemu
