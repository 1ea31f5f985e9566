#include "builder/chroot.hpp"

namespace cairn::builder {

Command chroot_command(const std::filesystem::path& tree, std::vector<std::string> argv,
                       std::int64_t source_date_epoch) {
  static constexpr const char* kScript =
      "mount -t proc proc \"$0/proc\" && mount -t sysfs sysfs \"$0/sys\" && "
      "mount --rbind /dev \"$0/dev\" && exec chroot \"$0\" \"$@\"";
  Command command;
  command.argv = {"unshare", "--mount", "--propagation", "private",    "--",
                  "sh",      "-c",      kScript,         tree.string()};
  command.argv.insert(command.argv.end(), std::make_move_iterator(argv.begin()),
                      std::make_move_iterator(argv.end()));
  command.env = {{"SOURCE_DATE_EPOCH", std::to_string(source_date_epoch)},
                 {"LC_ALL", "C.UTF-8"},
                 {"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"},
                 {"DEBIAN_FRONTEND", "noninteractive"}};
  return command;
}

}  // namespace cairn::builder
