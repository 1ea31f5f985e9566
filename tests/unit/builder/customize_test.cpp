#include "builder/stages/customize.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;

TEST_CASE("os-release names the image and keeps Debian's fields") {
  auto text = image_os_release(
      "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"
      "IMAGE_VERSION=old\nCAIRN_SECURITY_VERSION=9\n",
      "kvm-host", "1.2.3", 4);
  CHECK_THAT(text, Catch::Contains("ID=debian\n"));
  CHECK_THAT(text, Catch::Contains("IMAGE_ID=cairn-kvm-host\n"));
  CHECK_THAT(text, Catch::Contains("IMAGE_VERSION=1.2.3\n"));
  CHECK_THAT(text, !Catch::Contains("IMAGE_VERSION=old"));
  CHECK_THAT(text, Catch::Contains("CAIRN_SECURITY_VERSION=4\n"));
  CHECK_THAT(text, !Catch::Contains("CAIRN_SECURITY_VERSION=9"));
  CHECK_THAT(text, Catch::Contains(
                       "PRETTY_NAME=\"Cairn kvm-host 1.2.3 (Debian GNU/Linux 12 (bookworm))\""));
}

TEST_CASE(
    "the factory /var is recreated by tmpfiles: dirs with modes, contents copied, links kept") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-var-").value();
  fs::path var = dir.path() / "var";
  fs::create_directories(var / "lib/dpkg");
  fs::create_directories(var / "tmp");
  fs::permissions(var / "tmp", fs::perms(01777));
  fs::create_directory_symlink("/run", var / "run");
  auto lines = factory_var_tmpfiles(var);
  REQUIRE(lines.has_value());
  CHECK_THAT(*lines, Catch::Contains("d /var/lib 0755 0 0 -\n"));
  CHECK_THAT(*lines, Catch::Contains("C /var/lib/dpkg - - - - /usr/share/factory/var/lib/dpkg\n"));
  CHECK_THAT(*lines, Catch::Contains("d /var/tmp 1777 0 0 -\n"));
  CHECK_THAT(*lines, Catch::Contains("L /var/run - - - - /run\n"));
  CHECK_FALSE(factory_var_tmpfiles(dir.path() / "absent").has_value());
}
