#include "verifier.hpp"

#include <regex>
#include <thread>

#include "common/fs.hpp"
#include "common/process.hpp"

namespace cairn::qemu {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

Expected<std::string> run_verifier(const TestEnvironment& env, std::vector<std::string> args) {
  args.insert(args.begin(), env.cairn_verifier().string());
  SystemProcessRunner runner;
  auto ran = CAIRN_TRY(runner.run({.argv = args, .capture_stdout = true}));
  if (ran.exit_code != 0) {
    return fail(Errc::process, "cairn-verifier " + args[3] + ": exit " +
                                   std::to_string(ran.exit_code) + ": " + ran.stdout_text +
                                   ran.stderr_tail);
  }
  return ran.stdout_text;
}

// "listening on 127.0.0.1:PORT" in the log, once the verifier has bound its port.
Expected<std::uint16_t> wait_for_port(const fs::path& log) {
  static const std::regex kListening("listening on 127\\.0\\.0\\.1:([0-9]+)");
  std::smatch listening;
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    text = read_file(log).value_or("");
    if (std::regex_search(text, listening, kListening)) {
      return static_cast<std::uint16_t>(std::stoi(listening[1].str()));
    }
    std::this_thread::sleep_for(100ms);
  }
  return fail(Errc::unavailable, "cairn-verifier did not listen within 30 s: " + text);
}

}  // namespace

std::string TestVerifier::guest_url() const {
  return "http://" + std::string(kGuestSeesHost) + ":" + std::to_string(port);
}

Expected<TestVerifier> start_verifier(const TestEnvironment& env, const fs::path& dir,
                                      const std::vector<std::string>& versions) {
  fs::path db = dir / "verifier.db", key = dir / "token.key", log = dir / "verifier.log";
  for (const auto& version : versions) {
    CAIRN_TRY(run_verifier(env, {"--db", db.string(), "approve",
                                 (env.image_dir(version) / "measurements.json").string(), "--trust",
                                 (env.keys_dir() / "trust").string()}));
  }
  // Port 0: the verifier picks a free one and says which.
  auto process = CAIRN_TRY(testing::BackgroundProcess::start(
      {env.cairn_verifier().string(), "--db", db.string(), "serve", "--listen", "127.0.0.1:0",
       "--token-key", key.string(), "--allow-ek-without-certificate"},
      log));
  auto port = CAIRN_TRY(wait_for_port(log));
  auto shown = CAIRN_TRY(
      run_verifier(env, {"--db", db.string(), "token-key", "--show", "--token-key", key.string()}));
  fs::path public_key = dir / "token.pub";
  CAIRN_CHECK(write_file_atomic(public_key, shown));
  return TestVerifier{std::move(process), db, port, public_key};
}

}  // namespace cairn::qemu
