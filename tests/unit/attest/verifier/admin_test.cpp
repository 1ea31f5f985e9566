#include "attest/verifier/admin.hpp"

#include <catch2/catch.hpp>

using namespace cairn;
using namespace cairn::attest::verifier;

TEST_CASE("a host's JSON names its last verdict, version and time, or null", "[verifier][admin]") {
  HostRecord host{.name = "host-a", .ek_sha256 = std::string(64, 'a'), .enrolled_at = 0};
  auto none = to_json_value(host);
  CHECK(none["last_verdict"].is_null());
  CHECK(none["last_verdict_version"].is_null());
  CHECK(none["last_verdict_at"].is_null());

  host.last_verdict =
      LastVerdict{.admitted = true, .image_version = "kvm-host 1.0.0", .at = 1'750'000'000};
  auto admitted = to_json_value(host);
  CHECK(admitted["last_verdict"] == "admitted");
  CHECK(admitted["last_verdict_version"] == "kvm-host 1.0.0");
  CHECK(admitted["last_verdict_at"] == "2025-06-15T15:06:40Z");

  host.last_verdict = LastVerdict{.admitted = false, .at = 0};
  auto denied = to_json_value(host);
  CHECK(denied["last_verdict"] == "denied");
  CHECK(denied["last_verdict_version"].is_null());  // the verdict named no image
  CHECK(denied["last_verdict_at"] == "1970-01-01T00:00:00Z");
}
