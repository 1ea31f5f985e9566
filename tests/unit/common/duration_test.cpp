#include "common/duration.hpp"

#include <catch2/catch.hpp>

using namespace cairn;
using namespace std::chrono_literals;

TEST_CASE("durations read days too, and write back in their largest unit", "[duration]") {
  CHECK(*parse_duration("7d") == 24h * 7);
  CHECK(*parse_duration("1day") == 24h);
  CHECK(*parse_duration("0s") == 0s);
  CHECK(format_duration(24h * 7) == "7d");
  CHECK(format_duration(90min) == "90min");
  CHECK(format_duration(2h) == "2h");
  CHECK(format_duration(45s) == "45s");
  CHECK(format_duration(0s) == "0s");
  for (auto duration : {0s, 1s, 59s, 61s, 3600s, 86400s + 1s}) {
    CHECK(*parse_duration(format_duration(duration)) == duration);
  }
  CHECK_THAT(parse_duration("1w").error().message(), Catch::Contains("use ms, s, min, h or d"));
  CHECK_THAT(parse_duration("99999999999999999d").error().message(),
             Catch::Contains("too long a duration"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration(""));
}
