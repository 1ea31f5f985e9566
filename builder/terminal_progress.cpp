#include "builder/terminal_progress.hpp"

#include <unistd.h>

#include <cmath>

namespace cairn::builder {

TerminalProgress::TerminalProgress(std::FILE* out, bool verbose, bool quiet)
    : out_(out), verbose_(verbose), quiet_(quiet), tty_(::isatty(::fileno(out)) != 0) {}

void TerminalProgress::clear_status() {
  if (status_shown_) std::fprintf(out_, "\r\033[K");
  status_shown_ = false;
}

void TerminalProgress::stage_started(std::string_view stage) {
  if (quiet_) return;
  clear_status();
  std::fprintf(out_, "==> [%d] %.*s\n", ++index_, static_cast<int>(stage.size()), stage.data());
  std::fflush(out_);
}

void TerminalProgress::stage_detail(std::string_view stage, std::string_view detail) {
  if (quiet_) return;
  if (verbose_) {
    std::fprintf(out_, "    %.*s: %.*s\n", static_cast<int>(stage.size()), stage.data(),
                 static_cast<int>(detail.size()), detail.data());
  } else if (tty_) {
    clear_status();
    std::fprintf(out_, "    %.*s", static_cast<int>(std::min<std::size_t>(detail.size(), 100)),
                 detail.data());
    status_shown_ = true;
  }
  std::fflush(out_);
}

void TerminalProgress::stage_fraction(std::string_view stage, double fraction) {
  if (quiet_ || !tty_) return;
  clear_status();
  std::fprintf(out_, "    %.*s %3d %%", static_cast<int>(stage.size()), stage.data(),
               static_cast<int>(std::lround(fraction * 100)));
  status_shown_ = true;
  std::fflush(out_);
}

void TerminalProgress::stage_finished(std::string_view stage, std::chrono::duration<double> took) {
  if (quiet_) return;
  clear_status();
  std::fprintf(out_, "    %.*s done in %.1f s\n", static_cast<int>(stage.size()), stage.data(),
               took.count());
  std::fflush(out_);
}

std::string human_size(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return buffer;
}

}  // namespace cairn::builder
