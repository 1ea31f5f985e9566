// The daemon's install thread: the loop is told of progress and of the end through the eventfd,
// a second install is refused at once while one runs, and a cancel reaches the install.
#include "updater/install_job.hpp"

#include <poll.h>

#include <atomic>
#include <catch2/catch.hpp>

using namespace cairn;
using namespace cairn::updater;
using namespace std::chrono_literals;

namespace {

// Waits (like the event loop) until the eventfd is readable, then collects.
bool wait_for_wake(const InstallJobs& jobs, std::chrono::milliseconds timeout = 5000ms) {
  pollfd fd{.fd = jobs.wake_fd(), .events = POLLIN, .revents = 0};
  return ::poll(&fd, 1, static_cast<int>(timeout.count())) == 1;
}

std::optional<Expected<JobResult>> wait_for_result(InstallJobs& jobs,
                                                   std::vector<ProgressEvent>& events) {
  for (int i = 0; i < 100; ++i) {
    if (!wait_for_wake(jobs)) break;
    for (auto& event : jobs.take_events()) events.push_back(std::move(event));
    if (auto result = jobs.take_result()) return result;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("an install job reports its stages and its result through the wake fd", "[jobs]") {
  auto jobs = InstallJobs::create().value();
  REQUIRE(jobs->start([](Progress& progress, std::stop_token) -> Expected<InstallResult> {
    progress.stage_started("write");
    for (std::uint64_t done = 0; done <= 100; done += 10) progress.stage_bytes("write", done, 100);
    progress.stage_finished("write", 1.5s);
    return InstallResult{.slot = 'B', .version = "2.0", .entry = "e", .security_version = 7};
  }));
  std::vector<ProgressEvent> events;
  auto result = wait_for_result(*jobs, events);
  REQUIRE(result.has_value());
  REQUIRE(result->has_value());
  REQUIRE(std::holds_alternative<InstallResult>(**result));
  CHECK(std::get<InstallResult>(**result).security_version == 7);
  REQUIRE(events.size() >= 3);
  CHECK(events.front().kind == ProgressEvent::Kind::started);
  CHECK(events.back().kind == ProgressEvent::Kind::finished);
  CHECK(events.back().seconds == 1.5);
  // Byte counts are coalesced, but the last one always arrives.
  auto last_bytes = std::find_if(events.rbegin(), events.rend(), [](const ProgressEvent& e) {
    return e.kind == ProgressEvent::Kind::bytes;
  });
  REQUIRE(last_bytes != events.rend());
  CHECK(last_bytes->done == 100);
  CHECK(last_bytes->total == 100);
  CHECK_FALSE(jobs->running());
}

TEST_CASE("a second install is refused at once while one runs, and cancel stops the first",
          "[jobs]") {
  auto jobs = InstallJobs::create().value();
  std::atomic<bool> started = false;
  REQUIRE(jobs->start([&](Progress&, std::stop_token stop) -> Expected<InstallResult> {
    started = true;
    while (!stop.stop_requested()) std::this_thread::sleep_for(1ms);
    return fail(Errc::cancelled, "install cancelled");
  }));
  while (!started) std::this_thread::sleep_for(1ms);
  CHECK(jobs->running());
  auto second = jobs->start([](Progress&, std::stop_token) -> Expected<InstallResult> {
    FAIL("a second install ran");
    return InstallResult{};
  });
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code() == Errc::busy);
  CHECK(jobs->cancel());
  std::vector<ProgressEvent> events;
  auto result = wait_for_result(*jobs, events);
  REQUIRE(result.has_value());
  REQUIRE_FALSE(result->has_value());
  CHECK(result->error().code() == Errc::cancelled);
  CHECK_FALSE(jobs->cancel());  // nothing runs any more
  // And the next install may start.
  REQUIRE(jobs->start([](Progress&, std::stop_token) -> Expected<InstallResult> {
    return InstallResult{.version = "3.0"};
  }));
  result = wait_for_result(*jobs, events);
  REQUIRE(result.has_value());
  CHECK(std::get<InstallResult>(**result).version == "3.0");
}

TEST_CASE("a poll job hands its result over, and holds the place of an install", "[jobs]") {
  auto jobs = InstallJobs::create().value();
  std::atomic<bool> release = false;
  REQUIRE(jobs->start([&](Progress&, std::stop_token) -> Expected<JobResult> {
    while (!release) std::this_thread::sleep_for(1ms);
    return PollResult{.message = "installed 1.0.1", .installed = "1.0.1", .rebooting = true};
  }));
  auto install = jobs->start([](Progress&, std::stop_token) -> Expected<InstallResult> {
    FAIL("an install ran beside a poll");
    return InstallResult{};
  });
  REQUIRE_FALSE(install.has_value());
  CHECK(install.error().code() == Errc::busy);
  release = true;
  std::vector<ProgressEvent> events;
  auto result = wait_for_result(*jobs, events);
  REQUIRE(result.has_value());
  REQUIRE(result->has_value());
  REQUIRE(std::holds_alternative<PollResult>(**result));
  const auto& polled = std::get<PollResult>(**result);
  CHECK(polled.message == "installed 1.0.1");
  CHECK(polled.installed == "1.0.1");
  CHECK(polled.rebooting);
}

TEST_CASE("destroying the jobs cancels and joins a running install", "[jobs]") {
  std::atomic<bool> stopped = false;
  {
    auto jobs = InstallJobs::create().value();
    REQUIRE(jobs->start([&](Progress&, std::stop_token stop) -> Expected<InstallResult> {
      while (!stop.stop_requested()) std::this_thread::sleep_for(1ms);
      stopped = true;
      return fail(Errc::cancelled, "install cancelled");
    }));
  }
  CHECK(stopped);
}
