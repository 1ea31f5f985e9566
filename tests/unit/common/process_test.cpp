#include "common/process.hpp"

#include <catch2/catch.hpp>

using namespace cairn;

TEST_CASE("run_checked returns captured stdout") {
  SystemProcessRunner runner;
  auto out = run_checked(runner, {.argv = {"sh", "-c", "printf 'a b\\n'"}, .capture_stdout = true});
  REQUIRE(out.has_value());
  CHECK(*out == "a b\n");
}

TEST_CASE("a failing tool becomes a process error with its stderr") {
  SystemProcessRunner runner;
  auto out = run_checked(runner, {.argv = {"sh", "-c", "echo boom >&2; exit 3"}});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code() == Errc::process);
  CHECK(out.error().message().find("status 3") != std::string::npos);
  CHECK(out.error().message().find("boom") != std::string::npos);
}

TEST_CASE("stderr lines reach the progress callback") {
  SystemProcessRunner runner;
  std::vector<std::string> lines;
  auto out =
      run_checked(runner, {.argv = {"sh", "-c", "echo one >&2; echo two >&2"},
                           .on_stderr_line = [&](std::string_view l) { lines.emplace_back(l); }});
  REQUIRE(out.has_value());
  CHECK(lines == std::vector<std::string>{"one", "two"});
}

TEST_CASE("a missing program is named") {
  SystemProcessRunner runner;
  auto out = runner.run({.argv = {"cairn-no-such-program-xyz"}});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code() == Errc::not_found);
  CHECK(out.error().message().find("cairn-no-such-program-xyz") != std::string::npos);
}

TEST_CASE("quote_command quotes what a shell would split") {
  CHECK(quote_command({"echo", "a b", "it's"}) == "echo 'a b' 'it'\\''s'");
}
