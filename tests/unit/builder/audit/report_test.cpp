#include "builder/audit/report.hpp"

#include <catch2/catch.hpp>

#include "fixture_tree.hpp"

using namespace cairn;
using namespace cairn::builder;
using namespace cairn::builder::audit;
using cairn::testing::FixtureTree;

namespace {

ControlCatalogue catalogue() {
  return {.controls = {{.id = "D:R1", .document = "D", .title = "one"},
                       {.id = "D:R2", .document = "D", .title = "two"},
                       {.id = "D:R3", .document = "D", .title = "three"},
                       {.id = "D:R4", .document = "D", .title = "four"},
                       {.id = "D:R5",
                        .document = "D",
                        .title = "five",
                        .organisational = true,
                        .offers = "a procedure template"}}};
}

CheckResult result(std::string id, std::vector<std::string> controls, CheckStatus status,
                   bool required = true) {
  return {.id = std::move(id),
          .type = "line",
          .tags = {.controls = std::move(controls), .required = required},
          .status = status,
          .evidence = "evidence of " + std::string(check_status_name(status))};
}

}  // namespace

TEST_CASE("control status: failed beats enforced, live-only is unverified, uncovered is named") {
  AuditTarget target{.kind = "tree", .description = "t"};
  HardeningProfile profile{.name = "p", .chain = {"p"}};
  auto report = make_report(
      profile, catalogue(), target,
      {result("a", {"D:R1"}, CheckStatus::pass), result("b", {"D:R1", "D:R2"}, CheckStatus::fail),
       result("c", {"D:R2"}, CheckStatus::pass), result("d", {"D:R3"}, CheckStatus::skipped),
       result("e", {"D:R5"}, CheckStatus::pass), result("w", {"D:R3"}, CheckStatus::fail, false)});
  REQUIRE(report.controls.size() == 5);
  CHECK(report.controls[0].status == ControlStatus::failed);
  CHECK(report.controls[0].evidence == std::vector<std::string>{"b: evidence of fail"});
  CHECK(report.controls[1].status == ControlStatus::failed);
  CHECK(report.controls[2].status == ControlStatus::unverified);  // a warning does not fail it
  CHECK(report.controls[3].status == ControlStatus::not_covered);
  CHECK(report.controls[4].status == ControlStatus::organisational);
  CHECK_FALSE(report.passed());
  CHECK(report.failed_controls() == std::vector<std::string>{"D:R1", "D:R2"});

  auto json = report.to_json();
  CHECK(json["result"] == "fail");
  CHECK(json["failed_controls"] == nlohmann::json({"D:R1", "D:R2"}));
  CHECK(json["summary"]["failed"] == 2);
  CHECK(json["summary"]["organisational"] == 1);
  CHECK(json["controls"][4]["offers"] == "a procedure template");
  CHECK(json["controls"][0]["checks"] == nlohmann::json({"a", "b"}));
  CHECK(json["checks"].size() == 6);
  CHECK(json["checks"][5]["required"] == false);

  auto table = report.table();
  CHECK_THAT(table, Catch::Contains("D:R1") && Catch::Contains("failed"));
  CHECK_THAT(table, Catch::Contains("FAIL b (D:R1, D:R2): evidence of fail"));
  CHECK_THAT(table, Catch::Contains("warn w (D:R3)"));
  CHECK_THAT(table, Catch::EndsWith("Result: FAIL\n"));
}

TEST_CASE("a report with no failed required check passes, and its JSON is stable") {
  AuditTarget target{.kind = "image", .description = "x 1.0"};
  HardeningProfile profile{.name = "p", .chain = {"p"}};
  auto make = [&] {
    return make_report(profile, catalogue(), target,
                       {result("a", {"D:R1"}, CheckStatus::pass),
                        result("w", {"D:R2"}, CheckStatus::fail, false)});
  };
  auto report = make();
  CHECK(report.passed());
  CHECK(report.failed_controls().empty());
  CHECK(report.to_json()["result"] == "pass");
  CHECK(report.to_json().dump() == make().to_json().dump());
}

TEST_CASE("the control catalogue refuses duplicates, foreign ids and bare organisational points") {
  FixtureTree dir;
  dir.write("/a.toml",
            "document = \"D\"\n[[control]]\nid = \"D:R1\"\ntitle = \"t\"\nkind = \"technical\"\n");
  auto loaded = load_control_catalogue(dir.root());
  REQUIRE(loaded.has_value());
  CHECK(loaded->find("D:R1") != nullptr);
  CHECK(loaded->find("D:R9") == nullptr);

  dir.write("/b.toml",
            "document = \"D\"\n[[control]]\nid = \"D:R1\"\ntitle = \"t\"\nkind = \"technical\"\n");
  auto duplicate = load_control_catalogue(dir.root());
  REQUIRE_FALSE(duplicate.has_value());
  CHECK_THAT(duplicate.error().describe(), Catch::Contains("b.toml:3: control 'D:R1' is listed"));

  dir.write("/b.toml",
            "document = \"E\"\n[[control]]\nid = \"E:1\"\ntitle = \"t\"\nkind = "
            "\"organisational\"\n");
  CHECK_THAT(load_control_catalogue(dir.root()).error().describe(),
             Catch::Contains("b.toml:5: organisational control 'E:1' must say what the image "
                             "offers"));
  dir.write("/b.toml",
            "document = \"E\"\n[[control]]\nid = \"D:2\"\ntitle = \"t\"\nkind = \"technical\"\n");
  CHECK_THAT(load_control_catalogue(dir.root()).error().describe(),
             Catch::Contains("does not belong to document 'E'"));
}
