// An install, or a poll of the fleet channel (which may install), off the daemon's event loop:
// it runs on its own thread, while the loop keeps answering properties, status and a Cancel().
// Its progress and result are handed over through a queue, and an eventfd wakes the loop to
// collect them (sd-bus is used from the loop's thread only). One job at a time: a second one is
// refused at once with Errc::busy.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <variant>

#include "common/fs.hpp"
#include "common/progress.hpp"
#include "updater/install.hpp"
#include "updater/poll.hpp"

namespace cairn::updater {

// One Progress call, as data.
struct ProgressEvent {
  enum class Kind { started, bytes, finished };
  Kind kind = Kind::started;
  std::string stage;
  std::uint64_t done = 0, total = 0;  // bytes, for Kind::bytes
  double seconds = 0;                 // the stage's time, for Kind::finished
};

std::string_view progress_kind_name(ProgressEvent::Kind kind);

// What a job ended with: an install's result, or a poll's.
using JobResult = std::variant<InstallResult, PollResult>;

class InstallJobs {
 public:
  using Run = std::function<Expected<JobResult>(Progress&, std::stop_token)>;

  static Expected<std::unique_ptr<InstallJobs>> create();
  InstallJobs(const InstallJobs&) = delete;
  InstallJobs& operator=(const InstallJobs&) = delete;
  ~InstallJobs();  // cancels and joins a running job

  // Readable whenever events or a result wait to be collected.
  int wake_fd() const { return wake_.get(); }
  bool running() const;
  // Starts `run` on its own thread; Errc::busy while another job runs.
  Status start(Run run);
  // Asks the running job to stop; false when none runs.
  bool cancel();

  // What the job reported since the last call, and its result once it ended (the job is over
  // when a result is returned).
  std::vector<ProgressEvent> take_events();
  std::optional<Expected<JobResult>> take_result();

 private:
  explicit InstallJobs(UniqueFd wake) : wake_(std::move(wake)) {}
  class QueueProgress;
  void post(ProgressEvent event);
  void wake();

  UniqueFd wake_;
  mutable std::mutex mutex_;
  std::deque<ProgressEvent> events_;
  std::optional<Expected<JobResult>> result_;
  bool running_ = false;
  std::jthread worker_;
};

}  // namespace cairn::updater
