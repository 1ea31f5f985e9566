#include "support/channel_server.hpp"

#include <thread>

#include "common/fs.hpp"

namespace cairn::testing {

Expected<ChannelServer> ChannelServer::start(const std::filesystem::path& source_dir,
                                             const std::filesystem::path& repo,
                                             const std::filesystem::path& work_dir) {
  auto port_file = work_dir / "channel.port";
  std::filesystem::remove(port_file);
  auto process = CAIRN_TRY(BackgroundProcess::start(
      {"python3", (source_dir / "tests/integration/channel_server.py").string(), repo.string(),
       port_file.string()},
      work_dir / "channel-server.log"));
  for (int i = 0; i < 100; ++i) {
    if (auto text = read_file(port_file); text && !text->empty()) {
      return ChannelServer(std::move(process), std::stoi(*text));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return fail(Errc::unavailable, "the channel server over " + repo.string() +
                                     " did not start (see " +
                                     (work_dir / "channel-server.log").string() + ")");
}

}  // namespace cairn::testing
