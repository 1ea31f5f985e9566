#include "updater/fleet_agent.hpp"

#include <ctime>

#include "common/cms.hpp"
#include "common/fs.hpp"
#include "common/host_name.hpp"
#include "updater/fleet_report.hpp"
#include "updater/host_gate.hpp"
#include "updater/service_manager.hpp"

namespace cairn::updater {

namespace {

Expected<std::unique_ptr<fleet::FleetStore>> open_store(const FleetConfig& config) {
  if (config.store.empty()) return std::unique_ptr<fleet::FleetStore>();
  auto client = CAIRN_TRY(fleet::EtcdClient::open(config.store, {.ca_file = config.ca_file}));
  return fleet::etcd_fleet_store(std::move(client), config.name);
}

// What the host is, read without the install lock (the install takes it).
Expected<PollFacts> read_facts(const HostOptions& host) {
  auto layout = CAIRN_TRY(read_slot_layout(host.disk));
  char booted = CAIRN_TRY(booted_slot(layout, host.booted));
  PollFacts facts{.machine_id = CAIRN_TRY(machine_id(host)),
                  .machine_class = CAIRN_TRY(machine_class(host)),
                  .hostname = host_name(),
                  .running_version = layout.slot(booted).version(),
                  .other_version = layout.other(booted).version(),
                  .booted_slot = booted,
                  .state = CAIRN_TRY(load_state(host.state))};
  // A version this host went back from is not tried again by the timer, whoever decided it.
  auto history = CAIRN_TRY(History::load(host.state));
  for (const auto& record : history.records()) {
    if (record.outcome == Outcome::rolled_back || record.outcome == Outcome::failed) {
      facts.rolled_back.insert(record.version);
    }
  }
  return facts;
}

fleet::HostRecord host_record(const FleetConfig& config, const PollFacts& facts,
                              const std::string& message) {
  auto channel = parse_channel_url(config.channel);
  return {.id = facts.machine_id,
          .group = config.group,
          .channel = channel ? channel->name : "",
          .machine_class = facts.machine_class,
          .hostname = facts.hostname,
          .version = facts.running_version,
          .phase = std::string(phase_name(facts.state.phase)),
          .target = facts.state.pending ? facts.state.pending->version : "",
          .message = message};
}

// The host's record, written only when it changed (a quiet poll writes nothing).
Status publish_record(fleet::FleetStore& store, fleet::HostRecord record, PollState& state) {
  std::string unchanged = fleet::host_record_json(record);
  if (unchanged == state.published) return {};
  record.updated = fleet::format_time(
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
  CAIRN_CHECK(store.put_host(record));
  state.published = std::move(unchanged);
  return {};
}

// The failures a version may have before it halts: its rollout's, from what this host adopted
// or its cached index; 1 when neither knows it.
FailureAllowance failure_allowance(const std::filesystem::path& state_dir, const PollState& state) {
  std::optional<fleet::ChannelIndex> index;
  if (auto cached = load_cached_index(state_dir); cached && *cached) {
    if (auto parsed = fleet::parse_channel_index((*cached)->index)) index = std::move(*parsed);
  }
  return [adopted = state.adopted, index](const std::string& version) -> unsigned {
    if (adopted && adopted->version == version) return adopted->max_failures;
    if (index) {
      for (const auto& entry : index->entries) {
        if (entry.version == version) return entry.rollout.max_failures;
      }
    }
    return 1;
  };
}

// Keeps the host alive in the store and sends what it has not seen.
Status sync_store(fleet::FleetStore& store, const HostOptions& host, const FleetConfig& config,
                  const PollFacts& facts, PollState& state) {
  state.lease = CAIRN_TRY(store.keep_alive(facts.machine_id, state.lease, config.stale_after));
  auto history = CAIRN_TRY(History::load(host.state));
  return report_outcomes(store, history, {.id = facts.machine_id, .group = config.group},
                         failure_allowance(host.state, state), state);
}

std::string store_error(const Error& error) { return "fleet store: " + error.message(); }

}  // namespace

Expected<std::string> machine_id(const HostOptions& host) {
  std::string id = host.machine_id;
  if (id.empty()) {
    auto text = read_file("/etc/machine-id");
    if (!text) return fail(Errc::not_found, "this host has no /etc/machine-id: pass --machine-id");
    id = *text;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  }
  bool hex = id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!hex) {
    return fail(Errc::invalid_input,
                "machine-id '" + id + "' is not 32 lower-case hexadecimal digits");
  }
  return id;
}

Expected<PollResult> run_poll(const HostOptions& host, const UpdateConfig& config,
                              Progress& progress, std::stop_token stop, PollMemory* memory) {
  const FleetConfig& fleet_config = config.fleet;
  if (!fleet_config.enabled()) {
    // Not an error: the timer runs on every host, and most may update only when told to.
    return PollResult{.message = "no channel to poll: update.toml has no [fleet] channel"};
  }
  auto facts = CAIRN_TRY(read_facts(host));
  auto store = CAIRN_TRY(open_store(fleet_config));
  PollMemory this_poll_only;
  CmsVerifier& verifier = *CAIRN_TRY((memory ? *memory : this_poll_only).trust.get(host.trust));
  auto fetcher = http_document_fetcher({.ca_file = fleet_config.ca_file});
  const PollState before = CAIRN_TRY(load_poll_state(host.state));
  PollState state = before;
  Status synced = store ? sync_store(*store, host, fleet_config, facts, state) : Status{};
  if (differs_beyond_poll_time(state, before)) CAIRN_CHECK(save_poll_state(host.state, state));

  SystemdManager systemd;
  HostRebootGate gate(host, fleet_config);
  PollSeams seams{
      .fetcher = *fetcher,
      .verifier = verifier,
      .store = store.get(),
      .now =
          [] { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); },
      .local_minute_of_day =
          [] {
            std::time_t now = std::time(nullptr);
            std::tm local{};
            ::localtime_r(&now, &local);
            return local.tm_hour * 60 + local.tm_min;
          },
      .install =
          [&](const std::string& url, SourceOptions options) {
            return run_install(url, host, progress, stop, std::move(options));
          },
      // A disk-image file is "rebooted" by the next command naming its other slot.
      .reboot = [&]() -> Status { return is_disk_image(host) ? Status{} : systemd.reboot(); },
      .pass_gate = [&](const std::string& version,
                       RebootKind kind) { return gate.pass(version, kind); },
  };
  auto result = poll_channel(fleet_config, host.state, facts, seams, state);

  // Where the host stands now, for `status` and the store.
  std::string message = result ? result->message : result.error().message();
  if (result && !synced) message += "; " + store_error(synced.error());
  state.last = LastPoll{.at = utc_now(), .ok = result && synced, .message = message};
  if (store) {
    if (auto now = load_state(host.state)) facts.state = *now;
    if (auto published = publish_record(*store, host_record(fleet_config, facts, message), state);
        !published && synced) {
      synced = std::unexpected(published.error());
    }
  }
  // A quiet poll changes only its own time: not worth an fsync on every host every hour.
  CAIRN_CHECK(save_poll_state(host.state, state, differs_beyond_poll_time(state, before)));
  if (!result) return result;
  if (!synced) return fail(synced.error().code(), message);
  return result;
}

Status report_to_fleet(const HostOptions& host, const UpdateConfig& config) {
  if (!config.fleet.enabled() || config.fleet.store.empty()) return {};
  auto facts = CAIRN_TRY(read_facts(host));
  auto store = CAIRN_TRY(open_store(config.fleet));
  PollState state = CAIRN_TRY(load_poll_state(host.state));
  Status synced = sync_store(*store, host, config.fleet, facts, state);
  if (synced) {
    std::string message = facts.state.phase == Phase::committed
                              ? "committed " + facts.running_version
                              : "running " + facts.running_version + " (" +
                                    std::string(phase_name(facts.state.phase)) + ")";
    synced = publish_record(*store, host_record(config.fleet, facts, message), state);
  }
  CAIRN_CHECK(save_poll_state(host.state, state));
  if (!synced) return fail(synced.error().code(), store_error(synced.error()));
  return {};
}

}  // namespace cairn::updater
