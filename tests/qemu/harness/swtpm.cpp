#include "swtpm.hpp"

#include <thread>

namespace cairn::qemu {

namespace fs = std::filesystem;

Expected<Swtpm> Swtpm::start(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir / "state", ec);
  if (ec) return fail(Errc::io, "creating " + dir.string() + ": " + ec.message());
  fs::path socket = fs::absolute(dir / "swtpm.sock");
  fs::path log = dir / "swtpm.log";
  fs::remove(socket, ec);
  auto process = CAIRN_TRY(BackgroundProcess::start(
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
