// Fakes for the updater's seams: an ESP that only keeps names, a service manager with canned
// answers, a clock that jumps instead of sleeping, and checks that answer from a script.
#pragma once

#include <algorithm>
#include <functional>
#include <map>

#include "common/fs.hpp"
#include "updater/esp.hpp"
#include "updater/health_window.hpp"
#include "updater/service_manager.hpp"
#include "updater/slot_device.hpp"
#include "updater/slots.hpp"

namespace cairn::updater::testing {

// Two slots whose GPT labels name versions `a` and `b` ("empty" for an empty slot).
struct SlotsHolding : SlotLayout {
  SlotsHolding(const std::string& a, const std::string& b) {
    this->a = {.name = 'A',
               .root = {.label = "cairn_" + a},
               .verity = {.label = "cairn_" + a + "_verity"}};
    this->b = {.name = 'B',
               .root = {.label = "cairn_" + b},
               .verity = {.label = "cairn_" + b + "_verity"}};
  }
};

// An ESP that keeps names (and the contents of what it installs), and can fail a rename or an
// install on purpose.
class FakeEsp final : public Esp {
 public:
  explicit FakeEsp(std::vector<std::string> names) : names_(std::move(names)) {}
  Expected<std::vector<std::string>> list_entries() override { return names_; }
  Status remove_entry(const std::string& name) override {
    std::erase(names_, name);
    contents_.erase(name);
    return {};
  }
  Status install_entry(const std::filesystem::path& file, const std::string& name) override {
    if (on_install_) CAIRN_CHECK(on_install_(name));
    contents_[name] = CAIRN_TRY(read_file(file));
    names_.push_back(name);
    return {};
  }
  Status rename_entry(const std::string& from, const std::string& to) override {
    if (fail_on_ == from) return fail(Errc::io, "renaming " + from + ": injected");
    std::ranges::replace(names_, from, to);
    return {};
  }
  Expected<std::size_t> reclaim_debris() override {
    ++reclaims_;
    return 0;
  }
  Expected<std::uint64_t> free_bytes() override { return free_; }
  Expected<std::uint64_t> entry_bytes(const std::string& name) override {
    if (std::ranges::find(names_, name) == names_.end()) return fail(Errc::not_found, name);
    return entry_bytes_;
  }
  Expected<std::string> read_entry(const std::string& name) override {
    auto it = contents_.find(name);
    if (it == contents_.end()) return fail(Errc::not_found, name);
    return it->second;
  }
  std::vector<std::string> names_;
  std::uint64_t free_ = 200 << 20, entry_bytes_ = 30 << 20;
  std::map<std::string, std::string> contents_;
  int reclaims_ = 0;
  std::string fail_on_;
  // Runs before an install; an error fails it with nothing written.
  std::function<Status(const std::string&)> on_install_;
};

// Slots in memory: each partition's bytes, each slot's identity, and a failure on demand at the
// n-th call of an operation ("write", "sync", "verify", "identity").
class FakeSlotDevice final : public SlotDevice {
 public:
  Status write(const GptPartition& partition, std::uint64_t offset,
               std::span<const std::uint8_t> bytes) override {
    CAIRN_CHECK(maybe_fail("write"));
    std::string& data = partitions[partition.label];
    if (data.size() < offset + bytes.size()) data.resize(offset + bytes.size());
    std::copy(bytes.begin(), bytes.end(), data.begin() + static_cast<std::ptrdiff_t>(offset));
    return {};
  }
  Status sync() override { return maybe_fail("sync"); }
  Status verify(const Slot&, std::string_view) override { return maybe_fail("verify"); }
  Status set_identity(const Slot& slot, const SlotIdentity& identity) override {
    CAIRN_CHECK(maybe_fail("identity"));
    identities[slot.name] = identity;
    return {};
  }
  std::map<std::string, std::string> partitions;
  std::map<char, SlotIdentity> identities;
  std::string fail_operation;
  int fail_at_call = 1;  // 1-based

 private:
  Status maybe_fail(const std::string& operation) {
    if (operation != fail_operation || ++calls_[operation] != fail_at_call) return {};
    return fail(Errc::io, operation + ": injected");
  }
  std::map<std::string, int> calls_;
};

class FakeServiceManager final : public ServiceManager {
 public:
  Expected<std::vector<std::string>> failed_units() override {
    if (!reachable) return fail(Errc::unavailable, "no bus");
    return failed;
  }
  Expected<std::string> active_state(const std::string& unit) override {
    if (!reachable) return fail(Errc::unavailable, "no bus");
    auto it = states.find(unit);
    return it == states.end() ? std::string() : it->second;
  }
  Status reboot() override {
    ++reboots;
    return {};
  }
  bool reachable = true;
  std::vector<std::string> failed;
  std::map<std::string, std::string> states;
  int reboots = 0;
};

class FakeClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return now_; }
  void sleep_for(std::chrono::seconds duration) override {
    now_ += duration;
    slept += duration;
  }
  std::chrono::steady_clock::time_point now_{};
  std::chrono::seconds slept{0};
};

// A check whose answer for round n (1-based) comes from `answer`.
class ScriptedCheck final : public HealthCheck {
 public:
  ScriptedCheck(std::string name, bool required, std::function<bool(unsigned)> answer)
      : name_(std::move(name)), required_(required), answer_(std::move(answer)) {}
  const std::string& name() const override { return name_; }
  bool required() const override { return required_; }
  CheckResult run() override {
    ++runs;
    bool passed = answer_(runs);
    return {.name = name_,
            .required = required_,
            .passed = passed,
            .detail = passed ? "fine" : "broken in round " + std::to_string(runs)};
  }
  unsigned runs = 0;

 private:
  std::string name_;
  bool required_;
  std::function<bool(unsigned)> answer_;
};

}  // namespace cairn::updater::testing
