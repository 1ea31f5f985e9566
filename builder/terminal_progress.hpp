// The CLI's Progress sink: one line per stage start/finish on stderr, and on a terminal a single
// updating status line for the tool output in between (all of it with --verbose).
#pragma once

#include <cstdio>
#include <string>

#include "common/progress.hpp"

namespace cairn::builder {

class TerminalProgress final : public Progress {
 public:
  TerminalProgress(std::FILE* out, bool verbose, bool quiet);
  void stage_started(std::string_view stage) override;
  void stage_detail(std::string_view stage, std::string_view detail) override;
  void stage_fraction(std::string_view stage, double fraction) override;
  void stage_finished(std::string_view stage, std::chrono::duration<double> took) override;

 private:
  void clear_status();
  std::FILE* out_;
  bool verbose_, quiet_, tty_;
  bool status_shown_ = false;
  int index_ = 0;
};

std::string human_size(std::uint64_t bytes);

}  // namespace cairn::builder
