#include "support/postgres_server.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "common/process.hpp"
#include "support/free_port.hpp"

namespace cairn::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kBin = "/usr/lib/postgresql/15/bin/";
constexpr int kAttempts = 3;

// The account the cluster runs as: none (this process's) unless this process is root.
std::string cluster_user() {
  if (geteuid() != 0) return {};
  return getpwnam("postgres") ? "postgres" : "nobody";
}

std::vector<std::string> as_user(const std::string& user, std::vector<std::string> argv) {
  if (user.empty()) return argv;
  argv.insert(argv.begin(), {"runuser", "-u", user, "--"});
  return argv;
}

Status give_to(const std::string& user, const fs::path& path) {
  if (user.empty()) return {};
  const passwd* account = getpwnam(user.c_str());
  if (!account || chown(path.c_str(), account->pw_uid, account->pw_gid) != 0) {
    return fail(Errc::io, "cannot give " + path.string() + " to " + user);
  }
  return {};
}

}  // namespace

PostgresServer::PostgresServer(PostgresServer&& other) noexcept
    : dir_(std::move(other.dir_)),
      user_(std::move(other.user_)),
      port_(other.port_),
      running_(std::exchange(other.running_, false)) {}

PostgresServer::~PostgresServer() {
  if (running_) (void)stop_in_mode("immediate");  // the data goes with it
}

Expected<PostgresServer> PostgresServer::start() {
  std::error_code ec;
  if (!fs::exists(std::string(kBin) + "initdb", ec)) {
    return fail(Errc::not_found,
                std::string(kBin) + "initdb is missing: apt-get install postgresql-15");
  }
  auto dir = CAIRN_TRY(TempDir::create(fs::temp_directory_path(), "cairn-postgres-"));
  std::string user = cluster_user();
  // The cluster's account must reach its directories under this process's private one.
  ::chmod(dir.path().c_str(), 0711);
  for (auto sub : {"data", "run"}) {
    fs::create_directory(dir.path() / sub, ec);
    CAIRN_CHECK(give_to(user, dir.path() / sub));
  }
  SystemProcessRunner runner;
  CAIRN_CHECK(run_step(runner,
                       {.argv = as_user(user, {std::string(kBin) + "initdb", "-D",
                                               (dir.path() / "data").string(), "-U", "cairn", "-A",
                                               "trust", "--no-sync", "--no-locale", "-E", "UTF8"})},
                       "creating a PostgreSQL cluster"));
  PostgresServer server(std::move(dir), std::move(user), 0);
  Status started = fail(Errc::process, "no attempt");
  for (int attempt = 1; attempt <= kAttempts && !started; ++attempt) {
    server.port_ = CAIRN_TRY(free_loopback_port());
    started = server.pg_ctl_start();  // a port taken in between fails it: try another
  }
  if (!started) return std::unexpected(std::move(started).error());
  server.running_ = true;
  return server;
}

Status PostgresServer::pg_ctl_start() {
  SystemProcessRunner runner;
  std::string options = "-c listen_addresses=127.0.0.1 -c port=" + std::to_string(port_) +
                        " -c unix_socket_directories=" + (dir_.path() / "run").string() +
                        // A test cluster: durability buys nothing, and replicas want connections.
                        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                        " -c max_connections=200";
  auto log = dir_.path() / "run" / "postgres.log";
  return run_step(runner,
                  {.argv = as_user(user_, {std::string(kBin) + "pg_ctl", "start", "-w", "-t", "60",
                                           "-D", (dir_.path() / "data").string(), "-l",
                                           log.string(), "-o", options})},
                  "starting PostgreSQL on 127.0.0.1:" + std::to_string(port_));
}

Status PostgresServer::stop() { return stop_in_mode("fast"); }

Status PostgresServer::stop_in_mode(std::string_view mode) {
  SystemProcessRunner runner;
  running_ = false;
  return run_step(
      runner,
      {.argv = as_user(user_, {std::string(kBin) + "pg_ctl", "stop", "-w", "-m", std::string(mode),
                               "-D", (dir_.path() / "data").string()})},
      "stopping PostgreSQL");
}

Status PostgresServer::start_again() {
  CAIRN_CHECK(pg_ctl_start());
  running_ = true;
  return {};
}

std::string PostgresServer::url(std::string_view database) const {
  return "postgresql://cairn@127.0.0.1:" + std::to_string(port_) + "/" + std::string(database);
}

Expected<std::string> PostgresServer::psql(std::string_view database, std::string_view sql) {
  SystemProcessRunner runner;
  return run_checked(runner, {.argv = {"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                       "-d", url(database), "-c", std::string(sql)},
                              .capture_stdout = true});
}

Expected<std::string> PostgresServer::create_database(std::string_view name) {
  CAIRN_TRY(psql("postgres", "CREATE DATABASE \"" + std::string(name) + "\""));
  return url(name);
}

}  // namespace cairn::testing
