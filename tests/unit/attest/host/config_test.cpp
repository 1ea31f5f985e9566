#include "attest/host/config.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>

#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::attest::host;
namespace fs = std::filesystem;

namespace {
fs::path put(const fs::path& dir, const std::string& name, const std::string& text) {
  REQUIRE(write_file_atomic(dir / name, text));
  return dir / name;
}
}  // namespace

TEST_CASE("no configuration file gives the defaults", "[attest][host][config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-attest-config-");
  REQUIRE(dir);
  auto config = load_agent_config({dir->path() / "missing.toml"});
  REQUIRE(config);
  CHECK(config->verifier_url.empty());
  CHECK(config->tcti == "device:/dev/tpmrm0");
  CHECK(config->event_log == "/sys/kernel/security/tpm0/binary_bios_measurements");
  CHECK(config->token == "/run/cairn/attest/token");
  CHECK_FALSE(config->host.empty());  // the machine's host name
}

TEST_CASE("a later file overrides an earlier one key by key", "[attest][host][config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-attest-config-");
  REQUIRE(dir);
  auto etc = put(dir->path(), "etc.toml",
                 "verifier_url = \"http://a:1\"\nhost = \"kvm-07\"\ntcti = \"swtpm:port=2321\"\n");
  auto run = put(dir->path(), "run.toml",
                 "verifier_url = \"https://b:2\"\nverifier_key = \"/etc/k.pem\"\n"
                 "token = \"/tmp/t\"\nevent_log = \"/tmp/log\"\n");
  auto config = load_agent_config({etc, run});
  REQUIRE(config);
  CHECK(config->verifier_url == "https://b:2");
  CHECK(config->verifier_key == "/etc/k.pem");
  CHECK(config->host == "kvm-07");
  CHECK(config->tcti == "swtpm:port=2321");
  CHECK(config->token == "/tmp/t");
  CHECK(config->event_log == "/tmp/log");
}

TEST_CASE("the system credential sits between the image's file and the run-time one",
          "[attest][host][config]") {
  // A machine's credential (from its VMM or boot loader) overrides the image's defaults and
  // survives reboots; what is provisioned in /run for this boot overrides both. In a service
  // with LoadCredential=, its own copy ($CREDENTIALS_DIRECTORY) is read.
  ::unsetenv("CREDENTIALS_DIRECTORY");
  CHECK(default_config_files() == std::vector<fs::path>{"/etc/cairn/attest.toml",
                                                        "/run/credentials/@system/cairn.attest",
                                                        "/run/cairn/attest.toml"});
  ::setenv("CREDENTIALS_DIRECTORY", "/run/credentials/cairn-attest.service", 1);
  CHECK(default_config_files()[1] == "/run/credentials/cairn-attest.service/cairn.attest");
  ::unsetenv("CREDENTIALS_DIRECTORY");
}

TEST_CASE("relative paths are taken from the file's directory", "[attest][host][config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-attest-config-");
  REQUIRE(dir);
  auto credential = put(dir->path(), "cairn.attest",
                        "verifier_url = \"http://v:1\"\nverifier_key = \"cairn.attest-key\"\n"
                        "verifier_ca = \"/etc/ca.pem\"\ntoken = \"t/token\"\n");
  auto config = load_agent_config({credential});
  REQUIRE(config);
  CHECK(config->verifier_key == dir->path() / "cairn.attest-key");
  CHECK(config->verifier_ca == "/etc/ca.pem");
  CHECK(config->token == dir->path() / "t/token");
}

TEST_CASE("a bad attest.toml names the file, line and key", "[attest][host][config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-attest-config-");
  REQUIRE(dir);
  SECTION("unknown key, with a suggestion") {
    auto file = put(dir->path(), "a.toml", "verifier_url = \"http://a\"\nverifer_key = \"x\"\n");
    auto config = load_agent_config_file(file);
    REQUIRE_FALSE(config);
    CHECK(config.error().code() == Errc::invalid_input);
    CHECK_THAT(config.error().describe(), Catch::Contains("verifer_key"));
    CHECK_THAT(config.error().describe(), Catch::Contains("a.toml"));
  }
  SECTION("wrong type") {
    auto file = put(dir->path(), "b.toml", "verifier_url = 8443\n");
    auto config = load_agent_config_file(file);
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error().describe(), Catch::Contains("verifier_url"));
  }
  SECTION("host name with a character the verifier refuses") {
    auto file = put(dir->path(), "c.toml", "host = \"kvm 07\"\n");
    auto config = load_agent_config_file(file);
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error().describe(), Catch::Contains("'host'"));
  }
  SECTION("--config naming a missing file") {
    auto config = load_agent_config_file(dir->path() / "none.toml");
    REQUIRE_FALSE(config);
    CHECK(config.error().code() == Errc::not_found);
  }
}
