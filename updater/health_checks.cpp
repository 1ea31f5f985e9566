#include "updater/health_checks.hpp"

#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace cairn::updater {

namespace fs = std::filesystem;

namespace {

std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  auto at = text.rfind('\n');
  return std::string(at == std::string_view::npos ? text : text.substr(at + 1));
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

class FailedUnitsCheck final : public HealthCheck {
 public:
  FailedUnitsCheck(ServiceManager& manager, std::vector<std::string> ignored)
      : manager_(manager), ignored_(std::move(ignored)) {}
  const std::string& name() const override { return name_; }
  bool required() const override { return true; }
  CheckResult run() override {
    CheckResult result{.name = name_, .required = true};
    auto units = manager_.failed_units();
    if (!units) {
      result.detail = units.error().describe();
      return result;
    }
    std::erase_if(*units, [&](const std::string& unit) {
      return std::ranges::find(ignored_, unit) != ignored_.end();
    });
    result.passed = units->empty();
    result.detail = result.passed ? "no failed units" : "failed units: " + join(*units);
    return result;
  }

 private:
  ServiceManager& manager_;
  std::vector<std::string> ignored_;
  std::string name_ = "failed-units";
};

class UnitActiveCheck final : public HealthCheck {
 public:
  UnitActiveCheck(ServiceManager& manager, std::string unit)
      : manager_(manager), unit_(std::move(unit)), name_(unit_ + "-active") {}
  const std::string& name() const override { return name_; }
  bool required() const override { return true; }
  CheckResult run() override {
    CheckResult result{.name = name_, .required = true};
    auto state = manager_.active_state(unit_);
    if (!state) {
      result.detail = state.error().describe();
      return result;
    }
    result.passed = state->empty() || *state == "active";
    result.detail = state->empty() ? unit_ + " is not installed" : unit_ + " is " + *state;
    return result;
  }

 private:
  ServiceManager& manager_;
  std::string unit_;
  std::string name_;
};

class AutostartDomainsCheck final : public HealthCheck {
 public:
  AutostartDomainsCheck(ProcessRunner& runner, fs::path dir)
      : runner_(runner), dir_(std::move(dir)) {}
  const std::string& name() const override { return name_; }
  bool required() const override { return true; }
  CheckResult run() override {
    CheckResult result{.name = name_, .required = true};
    std::vector<std::string> autostart;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (entry.path().extension() == ".xml") autostart.push_back(entry.path().stem().string());
    }
    if (autostart.empty()) {
      result.passed = true;
      result.detail = "no autostart domains";
      return result;
    }
    std::sort(autostart.begin(), autostart.end());
    auto listed =
        runner_.run({.argv = {"virsh", "-c", "qemu:///system", "list", "--name", "--state-running"},
                     .capture_stdout = true});
    if (!listed || listed->exit_code != 0) {
      result.detail = "virsh list failed: " +
                      (listed ? last_line(listed->stderr_tail) : listed.error().describe());
      return result;
    }
    std::set<std::string> running;
    std::istringstream lines(listed->stdout_text);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) running.insert(line);
    }
    std::vector<std::string> stopped;
    for (const auto& domain : autostart) {
      if (!running.contains(domain)) stopped.push_back(domain);
    }
    result.passed = stopped.empty();
    result.detail = result.passed ? std::to_string(autostart.size()) + " autostart domains running"
                                  : "autostart domains not running: " + join(stopped);
    return result;
  }

 private:
  ProcessRunner& runner_;
  fs::path dir_;
  std::string name_ = "autostart-domains";
};

class ExecutableCheck final : public HealthCheck {
 public:
  ExecutableCheck(ProcessRunner& runner, fs::path file, bool required, std::chrono::seconds timeout)
      : runner_(runner),
        file_(std::move(file)),
        required_(required),
        timeout_(timeout),
        name_((required ? "required.d/" : "wanted.d/") + file_.filename().string()) {}
  const std::string& name() const override { return name_; }
  bool required() const override { return required_; }
  CheckResult run() override {
    auto ran = run_executable(runner_, file_, timeout_);
    return {.name = name_, .required = required_, .passed = ran.passed, .detail = ran.detail};
  }

 private:
  ProcessRunner& runner_;
  fs::path file_;
  bool required_;
  std::chrono::seconds timeout_;
  std::string name_;
};

}  // namespace

std::vector<fs::path> executables_in(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && ::access(entry.path().c_str(), X_OK) == 0) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

ExecutableOutcome run_executable(ProcessRunner& runner, const fs::path& file,
                                 std::chrono::seconds timeout,
                                 std::vector<std::pair<std::string, std::string>> env) {
  // timeout(1) kills one that hangs; its exit 124 says so.
  auto ran = runner.run(
      {.argv = {"timeout", "--kill-after=5", std::to_string(timeout.count()), file.string()},
       .env = std::move(env),
       .capture_stdout = true});
  if (!ran) return {.detail = ran.error().describe()};
  ExecutableOutcome outcome{.passed = ran->exit_code == 0};
  std::string said = last_line(ran->stderr_tail);
  if (said.empty()) said = last_line(ran->stdout_text);
  if (ran->exit_code == 124) {
    outcome.detail = "timed out after " + std::to_string(timeout.count()) + " s";
  } else if (outcome.passed) {
    outcome.detail = said.empty() ? "ok" : said;
  } else {
    outcome.detail = "exit " + std::to_string(ran->exit_code) + (said.empty() ? "" : ": " + said);
  }
  return outcome;
}

std::unique_ptr<HealthCheck> failed_units_check(ServiceManager& manager,
                                                std::vector<std::string> ignored) {
  return std::make_unique<FailedUnitsCheck>(manager, std::move(ignored));
}

std::unique_ptr<HealthCheck> unit_active_check(ServiceManager& manager, std::string unit) {
  return std::make_unique<UnitActiveCheck>(manager, std::move(unit));
}

std::unique_ptr<HealthCheck> autostart_domains_check(ProcessRunner& runner, fs::path dir) {
  return std::make_unique<AutostartDomainsCheck>(runner, std::move(dir));
}

std::unique_ptr<HealthCheck> executable_check(ProcessRunner& runner, fs::path file, bool required,
                                              std::chrono::seconds timeout) {
  return std::make_unique<ExecutableCheck>(runner, std::move(file), required, timeout);
}

std::vector<std::unique_ptr<HealthCheck>> configured_checks(const HealthConfig& config,
                                                            ServiceManager& manager,
                                                            ProcessRunner& runner) {
  std::vector<std::unique_ptr<HealthCheck>> checks;
  checks.push_back(
      failed_units_check(manager, {kJudgedByOwnCheck.begin(), kJudgedByOwnCheck.end()}));
  if (config.libvirtd) checks.push_back(unit_active_check(manager, "libvirtd.service"));
  if (config.autostart_domains) {
    checks.push_back(autostart_domains_check(runner, "/etc/libvirt/qemu/autostart"));
  }
  for (bool required : {true, false}) {
    for (const auto& file :
         executables_in(config.checks_dir / (required ? "required.d" : "wanted.d"))) {
      checks.push_back(executable_check(runner, file, required, config.check_timeout));
    }
  }
  return checks;
}

}  // namespace cairn::updater
