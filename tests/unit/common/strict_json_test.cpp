#include "common/strict_json.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

using namespace cairn;

namespace {

std::string error_of(std::string_view text) {
  auto parsed = parse_strict_json(text, "doc");
  if (parsed) return "ok";
  CHECK(parsed.error().code() == Errc::invalid_input);
  return parsed.error().describe();
}

}  // namespace

TEST_CASE("strict JSON reads what plain JSON reads", "[json]") {
  auto parsed = parse_strict_json(R"({"a": 1, "b": {"a": 2, "c": [{"a": 3}, {"a": 4}]}})", "doc");
  REQUIRE(parsed.has_value());
  CHECK((*parsed)["b"]["c"][1]["a"] == 4);
  // The same key in sibling or nested objects is no duplicate.
  CHECK(error_of(R"([{"k": 1}, {"k": 2}, {"k": {"k": 3}}])") == "ok");
  CHECK(error_of(R"("text")") == "ok");
}

TEST_CASE("a key written twice is refused wherever it is, naming it and its object", "[json]") {
  CHECK_THAT(error_of(R"({"version": "1.0.1", "version": "9.9.9"})"),
             Catch::Contains("doc: key 'version' appears twice in the top-level object"));
  CHECK_THAT(error_of(R"({"payloads": {"uki": {"size": 1, "size": 2}}})"),
             Catch::Contains("key 'size' appears twice in 'payloads.uki'"));
  CHECK_THAT(error_of(R"({"list": [{"x": 1}, {"y": 1, "y": 1}]})"),
             Catch::Contains("key 'y' appears twice in 'list[]'"));
  // Equal values are no excuse: the reader must not have to pick one.
  CHECK_THAT(error_of(R"({"a": 1, "a": 1})"), Catch::Contains("key 'a' appears twice"));
  // Keys that differ only after an escape are the same key once decoded.
  CHECK_THAT(error_of(R"({"a": 1, "\u0061": 2})"), Catch::Contains("key 'a' appears twice"));
}

TEST_CASE("strict JSON refuses syntax errors and deep nesting with one reason", "[json]") {
  CHECK_THAT(error_of(R"({"a": 1,)"), Catch::Contains("doc: not JSON (syntax error at byte"));
  CHECK_THAT(error_of(""), Catch::Contains("doc: not JSON"));
  CHECK_THAT(error_of("{\"a\": \"\xff\"}"), Catch::Contains("doc: not JSON"));
  std::string deep(kMaxJsonDepth, '[');
  deep += std::string(kMaxJsonDepth, ']');
  CHECK(error_of(deep) == "ok");
  std::string deeper = "[" + deep + "]";
  CHECK_THAT(error_of(deeper), Catch::Contains("nested deeper than 32 levels"));
  CHECK_THAT(error_of(std::string(1 << 20, '[')), Catch::Contains("nested deeper than"));
  // Brackets inside strings are text, escaped quotes included; mixed brackets count alike.
  std::string in_string = R"({"a": ")" + std::string(100, '[') + R"(\" [[[[", "b": "{{{{"})";
  CHECK(error_of(in_string) == "ok");
  std::string mixed;
  for (int i = 0; i < 17; ++i) mixed += R"({"k": [)";
  CHECK_THAT(error_of(mixed), Catch::Contains("nested deeper than 32 levels"));
}

TEST_CASE("a number no double holds is refused, not thrown (found by tests/fuzz)", "[json]") {
  CHECK_THAT(error_of("1e400"), Catch::Contains("doc: not JSON (") &&
                                    Catch::Contains("number overflow parsing '1e400'"));
  CHECK_THAT(error_of("[-1e400]"), Catch::Contains("number overflow"));
  // As the fuzzer found it, inside a manifest and inside a token's claims.
  CHECK_THAT(error_of("{\n  \"created\": \"2024-11-14T22:13:20Z\",\n  \"format\": 1,\n  "
                      "\"machine_class\": 1e400\"x86_64-kvm-host\",\n 1en \"ma\xeb"
                      "1ad"),
             Catch::Contains("number overflow"));
  CHECK_THAT(error_of(R"({"issued_at": 1701e4004070599})"), Catch::Contains("number overflow"));
}

TEST_CASE("a body of brackets is refused before the parser builds anything", "[json]") {
  // 4 MB of '[' once cost the verifier 300 MB of memory; refused now in one pass.
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i) {
    CHECK_THAT(error_of(std::string(4 << 20, '[')), Catch::Contains("nested deeper than"));
  }
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
}

TEST_CASE("a strict object names the field that is missing, mistyped or unknown", "[json]") {
  auto doc = parse_strict_json(R"({"name": "a", "on": true, "n": 2, "list": [], "x": null})", "d");
  REQUIRE(doc.has_value());
  CHECK_THAT(StrictJsonObject::of(nlohmann::json::array(), "thing").error().message(),
             Catch::Equals("thing: not a JSON object"));
  auto object = StrictJsonObject::of(*doc, "thing");
  REQUIRE(object.has_value());
  CHECK(object->string("name").value() == "a");
  CHECK(object->boolean("on").value());
  CHECK(object->number("n").value() == 2.0);
  CHECK(object->array("list").value()->empty());
  CHECK_THAT(object->finish().error().message(), Catch::Equals("thing: unknown field 'x'"));
  CHECK_THAT(object->string("x").error().message(), Catch::Equals("thing: 'x' must be a string"));
  CHECK(object->finish().has_value());  // every field has been asked for now
  CHECK_THAT(object->number("name").error().message(),
             Catch::Equals("thing: 'name' must be a number"));
  CHECK_THAT(object->boolean("n").error().message(),
             Catch::Equals("thing: 'n' must be true or false"));
  CHECK_THAT(object->array("on").error().message(), Catch::Equals("thing: 'on' must be an array"));
  auto missing = object->string("gone");
  CHECK(missing.error().code() == Errc::invalid_input);
  CHECK_THAT(missing.error().message(), Catch::Equals("thing: 'gone' is missing"));
}
