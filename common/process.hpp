// Running external tools (mmdebstrap, mkfs.erofs, objcopy, …) behind a narrow seam so that
// pipeline stages can be unit-tested with a fake runner.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace cairn {

struct Command {
  std::vector<std::string> argv;
  // Added to (or overriding) the inherited environment.
  std::vector<std::pair<std::string, std::string>> env;
  std::filesystem::path cwd;  // empty: inherit
  bool capture_stdout = false;
  // Called for each complete line the tool prints on stderr (for progress); may be empty.
  std::function<void(std::string_view)> on_stderr_line;
  // Called for each stdout line when stdout is not captured; may be empty (then discarded).
  std::function<void(std::string_view)> on_stdout_line;
};

struct ProcessResult {
  int exit_code = 0;        // exit status, or 128 + signal number
  std::string stdout_text;  // when capture_stdout
  std::string stderr_tail;  // the last lines of stderr, for error messages
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs the command to completion. Fails only when it cannot be started; a non-zero exit is a
  // successful run with exit_code set.
  virtual Expected<ProcessResult> run(const Command& command) = 0;
};

// fork + exec with pipes; the real thing.
class SystemProcessRunner final : public ProcessRunner {
 public:
  Expected<ProcessResult> run(const Command& command) override;
};

// Runs and turns a non-zero exit into Errc::process naming the tool and its stderr tail.
// Returns stdout when captured.
Expected<std::string> run_checked(ProcessRunner& runner, const Command& command);

// run_checked for a step whose output is not needed; `context` ("while …") wraps any error.
Status run_step(ProcessRunner& runner, const Command& command, std::string context = {});

// "argv[0] arg1 'arg with space'", for messages.
std::string quote_command(const std::vector<std::string>& argv);

// True when an executable of that name is on PATH.
bool have_program(std::string_view name);

}  // namespace cairn
