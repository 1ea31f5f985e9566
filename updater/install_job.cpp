#include "updater/install_job.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

namespace cairn::updater {

std::string_view progress_kind_name(ProgressEvent::Kind kind) {
  switch (kind) {
    case ProgressEvent::Kind::started:
      return "started";
    case ProgressEvent::Kind::bytes:
      return "bytes";
    case ProgressEvent::Kind::finished:
      return "finished";
  }
  return "unknown";
}

// Progress from the job's thread into the queue. Byte counts are coalesced: the loop needs the
// latest, not every 64 KiB step.
class InstallJobs::QueueProgress final : public Progress {
 public:
  explicit QueueProgress(InstallJobs& jobs) : jobs_(jobs) {}
  void stage_started(std::string_view stage) override {
    jobs_.post({.kind = ProgressEvent::Kind::started, .stage = std::string(stage)});
  }
  void stage_detail(std::string_view, std::string_view) override {}
  void stage_fraction(std::string_view stage, double fraction) override {
    stage_bytes(stage, static_cast<std::uint64_t>(fraction * 1000), 1000);
  }
  void stage_bytes(std::string_view stage, std::uint64_t done, std::uint64_t total) override {
    jobs_.post({.kind = ProgressEvent::Kind::bytes,
                .stage = std::string(stage),
                .done = done,
                .total = total});
  }
  void stage_finished(std::string_view stage, std::chrono::duration<double> took) override {
    jobs_.post({.kind = ProgressEvent::Kind::finished,
                .stage = std::string(stage),
                .seconds = took.count()});
  }

 private:
  InstallJobs& jobs_;
};

Expected<std::unique_ptr<InstallJobs>> InstallJobs::create() {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return fail_errno("eventfd", errno);
  return std::unique_ptr<InstallJobs>(new InstallJobs(UniqueFd(fd)));
}

InstallJobs::~InstallJobs() {
  if (worker_.joinable()) {
    worker_.request_stop();
    worker_.join();
  }
}

bool InstallJobs::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

Status InstallJobs::start(Run run) {
  {
    std::lock_guard lock(mutex_);
    if (running_) return fail(Errc::busy, "an install or a poll is already running");
    running_ = true;
    result_.reset();
    events_.clear();
  }
  if (worker_.joinable()) worker_.join();  // the previous job, long over
  worker_ = std::jthread([this, run = std::move(run)](std::stop_token stop) {
    QueueProgress progress(*this);
    auto result = run(progress, stop);
    {
      std::lock_guard lock(mutex_);
      result_ = std::move(result);
      running_ = false;
    }
    wake();
  });
  return {};
}

bool InstallJobs::cancel() {
  std::lock_guard lock(mutex_);
  if (!running_) return false;
  worker_.request_stop();
  return true;
}

void InstallJobs::post(ProgressEvent event) {
  {
    std::lock_guard lock(mutex_);
    if (event.kind == ProgressEvent::Kind::bytes && !events_.empty() &&
        events_.back().kind == ProgressEvent::Kind::bytes && events_.back().stage == event.stage) {
      events_.back() = std::move(event);
      return;  // the loop has been woken for this one already
    }
    events_.push_back(std::move(event));
  }
  wake();
}

void InstallJobs::wake() {
  std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

std::vector<ProgressEvent> InstallJobs::take_events() {
  std::uint64_t count = 0;
  (void)!::read(wake_.get(), &count, sizeof count);
  std::lock_guard lock(mutex_);
  std::vector<ProgressEvent> out(std::make_move_iterator(events_.begin()),
                                 std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

std::optional<Expected<JobResult>> InstallJobs::take_result() {
  std::optional<Expected<JobResult>> out;
  {
    std::lock_guard lock(mutex_);
    if (running_ || !result_) return std::nullopt;
    out = std::move(result_);
    result_.reset();
  }
  if (worker_.joinable()) worker_.join();
  return out;
}

}  // namespace cairn::updater
