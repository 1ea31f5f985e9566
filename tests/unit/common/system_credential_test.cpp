#include "common/system_credential.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>

namespace fs = std::filesystem;
using cairn::system_credential;

TEST_CASE("a system credential is the service's own copy when it has one", "[credential]") {
  // A sandboxed service (cairn-update.service, cairn-attest.service) does not see
  // /run/credentials/@system; systemd gives it LoadCredential= copies in $CREDENTIALS_DIRECTORY.
  ::unsetenv("CREDENTIALS_DIRECTORY");
  CHECK(system_credential("cairn.update") == "/run/credentials/@system/cairn.update");
  ::setenv("CREDENTIALS_DIRECTORY", "/run/credentials/cairn-update.service", 1);
  CHECK(system_credential("cairn.update") == "/run/credentials/cairn-update.service/cairn.update");
  // A test tree is never redirected to the process's own credentials.
  CHECK(system_credential("cairn.update", "/tmp/tree") ==
        "/tmp/tree/run/credentials/@system/cairn.update");
  ::setenv("CREDENTIALS_DIRECTORY", "", 1);
  CHECK(system_credential("cairn.attest") == "/run/credentials/@system/cairn.attest");
  ::unsetenv("CREDENTIALS_DIRECTORY");
}
