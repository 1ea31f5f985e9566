// How long-running library code reports progress without printing: the CLI or daemon passes a
// sink; tests pass NullProgress or a recorder.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace cairn {

class Progress {
 public:
  virtual ~Progress() = default;
  virtual void stage_started(std::string_view stage) = 0;
  // A line of activity ("unpacking libvirt0", "42 %"); may be called often.
  virtual void stage_detail(std::string_view stage, std::string_view detail) = 0;
  // `fraction` in [0, 1] when the stage knows how far along it is.
  virtual void stage_fraction(std::string_view stage, double fraction) = 0;
  // Bytes done of a known total (an install's write); by default, as a fraction.
  virtual void stage_bytes(std::string_view stage, std::uint64_t done, std::uint64_t total) {
    stage_fraction(stage,
                   total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total));
  }
  virtual void stage_finished(std::string_view stage, std::chrono::duration<double> took) = 0;
};

class NullProgress final : public Progress {
 public:
  void stage_started(std::string_view) override {}
  void stage_detail(std::string_view, std::string_view) override {}
  void stage_fraction(std::string_view, double) override {}
  void stage_finished(std::string_view, std::chrono::duration<double>) override {}
};

}  // namespace cairn
