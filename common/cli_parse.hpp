// How the four programs read their command line (CLI11, header-only, so only the mains that link
// CLI11 include this): --version, and usage errors that exit 2 as README promises, naming an
// unknown command, instead of CLI11's own exit codes (105, 106, 109, ...).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "common/project_version.hpp"

namespace cairn {

inline constexpr int kExitUsage = 2;

// `--version` prints "<program> <project version>" and exits 0.
inline void add_version_flag(CLI::App& app, std::string_view program) {
  app.set_version_flag("--version", std::string(program) + " " + std::string(kProjectVersion),
                       "print the version and exit");
}

// Parses; returns the exit code when the program should stop here: 0 after --help or --version
// (printed on stdout), kExitUsage after a usage error (one line on stderr, "<program>: usage
// error: ...", then a pointer to --help).
inline std::optional<int> parse_command_line(CLI::App& app, std::string_view program, int argc,
                                             const char* const* argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::Success& done) {
    return app.exit(done);
  } catch (const CLI::ParseError& error) {
    std::string message = error.what();
    // CLI11 reports a mistyped command as a missing one ("A subcommand is required"): name it.
    auto rest = app.remaining();
    if (app.get_subcommands().empty() && !app.get_subcommands({}).empty() && !rest.empty() &&
        !rest.front().starts_with("-")) {
      message = "unknown command '" + rest.front() + "' (commands:";
      for (const auto* command : app.get_subcommands({})) message += " " + command->get_name();
      message += ")";
    }
    std::fprintf(stderr, "%.*s: usage error: %s\nRun with --help for more information.\n",
                 static_cast<int>(program.size()), program.data(), message.c_str());
    return kExitUsage;
  }
}

}  // namespace cairn
