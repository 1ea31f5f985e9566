#include "fleet/channel_repo.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <utility>

#include "common/duration.hpp"
#include "fleet/index_files.hpp"
#include "fleet/repo_bundle.hpp"

namespace cairn::fleet {

namespace fs = std::filesystem;

namespace {

// Ten years: far beyond any sensible lifetime, and far from overflowing now + lifetime.
constexpr std::chrono::seconds kMaxIndexLifetime = std::chrono::days(3660);

Status check_lifetime(std::chrono::seconds lifetime) {
  if (lifetime <= std::chrono::seconds(0) || lifetime > kMaxIndexLifetime) {
    return fail(Errc::invalid_input, "the index's lifetime must be between 1s and 3660d, not " +
                                         format_duration(lifetime));
  }
  return {};
}

Rollout planned_rollout(const PublishRequest& request) {
  return {.start = request.rollout.start.value_or(request.now),
          .waves = request.rollout.waves,
          .max_failures = request.rollout.max_failures};
}

// The directories a publish had to create, removed again (when still empty) unless it succeeded:
// a refused publish into a new repository leaves no empty repository behind.
class CreatedDirs {
 public:
  CreatedDirs() = default;
  CreatedDirs(const CreatedDirs&) = delete;
  CreatedDirs& operator=(const CreatedDirs&) = delete;
  ~CreatedDirs() {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) ::rmdir(it->c_str());
  }
  Status create(const fs::path& dir) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return {};
    if (!fs::create_directory(dir, ec) || ec) {
      return fail(Errc::io, "create directory " + dir.string() + ": " + ec.message());
    }
    created_.push_back(dir);
    return {};
  }
  void keep() { created_.clear(); }

 private:
  std::vector<fs::path> created_;
};

// The one way an index changes: the old one (verified, or none), the change, serial + 1, a new
// expiry; signed, and checked as a host would check it before anything is written.
Expected<SignedIndex> sign_changed_index(const std::optional<ChannelIndex>& old,
                                         std::string_view channel, const IndexChange& change,
                                         Signer& signer, SignatureVerifier& trust, TimePoint now,
                                         std::chrono::seconds lifetime) {
  if (old && old->serial == UINT64_MAX) {
    return fail(Errc::invalid_input, "channel " + std::string(channel) + "'s serial is at its end");
  }
  ChannelIndex next = old.value_or(ChannelIndex{});
  CAIRN_CHECK(change(next));
  next.format = kChannelIndexFormat;
  next.channel = std::string(channel);
  next.serial = old ? old->serial + 1 : 1;
  next.expires = now + lifetime;
  SignedIndex out{.bytes = channel_index_json(next)};
  // What is signed is what hosts parse: a change that broke a rule (a duplicate entry, a bad
  // path) fails here, not on every host.
  out.index = CAIRN_TRY(with_context(parse_channel_index(out.bytes), "the changed index"));
  out.signature = CAIRN_TRY(with_context(signer.sign(out.bytes), "signing the channel index"));
  // Signed by a key the hosts' anchors do not accept (another keys directory), the index would
  // stop the whole channel: refused here, once.
  CAIRN_CHECK(with_context(
      verify_channel_index(out.bytes, out.signature, trust,
                           {.now = now,
                            .channel = std::string(channel),
                            .last_serial = old ? std::optional(old->serial) : std::nullopt}),
      "checking the new index as hosts will"));
  return out;
}

}  // namespace

ChannelFiles channel_files(const fs::path& repo, std::string_view channel) {
  fs::path index = repo / "channels" / (std::string(channel) + ".json");
  return {index, fs::path(index.string() + ".sig")};
}

ChannelEntry* find_entry(ChannelIndex& index, std::string_view version,
                         std::string_view machine_class) {
  for (auto& entry : index.entries) {
    if (entry.version == version && entry.machine_class == machine_class) return &entry;
  }
  return nullptr;
}

bool put_entry(ChannelIndex& index, ChannelEntry entry) {
  if (ChannelEntry* existing = find_entry(index, entry.version, entry.machine_class)) {
    *existing = std::move(entry);
    return true;
  }
  index.entries.push_back(std::move(entry));
  return false;
}

Expected<ChannelIndex> read_channel(const fs::path& repo, std::string_view channel,
                                    SignatureVerifier& trust) {
  CAIRN_CHECK(check_channel_name(channel));
  auto index = CAIRN_TRY(load_index(channel_files(repo, channel), channel, trust, false));
  if (!index) {
    return fail(Errc::not_found,
                "channel " + std::string(channel) + " has no index in " + repo.string());
  }
  return std::move(*index);
}

Expected<ChannelIndex> resign_channel(const fs::path& repo, std::string_view channel,
                                      const IndexChange& change, Signer& signer,
                                      SignatureVerifier& trust, TimePoint now,
                                      const ResignOptions& options) {
  CAIRN_CHECK(check_channel_name(channel));
  CAIRN_CHECK(check_lifetime(options.expires_in));
  std::error_code ec;
  if (!fs::is_directory(repo, ec)) {
    return fail(Errc::not_found, "no channel repository at " + repo.string());
  }
  CreatedDirs dirs;
  CAIRN_CHECK(dirs.create(repo / "channels"));
  auto lock = CAIRN_TRY(RepoLock::acquire(repo));
  ChannelFiles files = channel_files(repo, channel);
  auto old = CAIRN_TRY(load_index(files, channel, trust, true));
  if (!old && !options.create) {
    return fail(Errc::not_found,
                "channel " + std::string(channel) + " has no index in " + repo.string());
  }
  auto signed_index =
      CAIRN_TRY(sign_changed_index(old, channel, change, signer, trust, now, options.expires_in));
  bool signature_replaced = false;
  CAIRN_CHECK(write_index(files, signed_index, signature_replaced));
  dirs.keep();
  return std::move(signed_index.index);
}

Status check_publish_request(const PublishRequest& request) {
  CAIRN_CHECK(check_channel_name(request.channel));
  CAIRN_CHECK(with_context(check_rollout(planned_rollout(request)), "rollout"));
  return check_lifetime(request.expires_in);
}

Expected<PublishResult> publish_bundle(const PublishRequest& request, Signer& signer,
                                       SignatureVerifier& trust) {
  // Everything that can be refused without the repository is, before it is touched.
  CAIRN_CHECK(check_publish_request(request));
  Rollout rollout = planned_rollout(request);
  auto manifest = CAIRN_TRY(read_bundle_manifest(request.bundle, trust));

  CreatedDirs dirs;
  for (const fs::path& dir : {request.repo, request.repo / "bundles", request.repo / "channels"}) {
    CAIRN_CHECK(dirs.create(dir));
  }
  auto lock = CAIRN_TRY(RepoLock::acquire(request.repo));
  ChannelFiles files = channel_files(request.repo, request.channel);
  // The index before the bundle: a channel that cannot be re-signed fails before GBs are copied.
  auto old = CAIRN_TRY(load_index(files, request.channel, trust, true));
  auto staged =
      CAIRN_TRY(StagedBundle::stage(request.bundle, request.repo / "bundles", manifest, trust));

  PublishResult result{.entry = {.version = manifest.version,
                                 .security_version = manifest.security_version,
                                 .machine_class = manifest.machine_class,
                                 .bundle = staged.ref(),
                                 .published = request.now,
                                 .rollout = rollout,
                                 .state = request.state},
                       .files = files,
                       .bundle_path = staged.published_path(),
                       .bundle_copied = staged.copied()};
  auto signed_index = CAIRN_TRY(sign_changed_index(
      old, request.channel,
      [&](ChannelIndex& index) -> Status {
        result.replaced = put_entry(index, result.entry);
        return {};
      },
      signer, trust, request.now, request.expires_in));
  // The bundle before the index: an index never names a file that is not there yet.
  CAIRN_CHECK(staged.commit());
  bool signature_replaced = false;
  if (auto written = write_index(files, signed_index, signature_replaced); !written) {
    // Once the new signature is in, the pending index naming the bundle will be finished by the
    // next writer: the bundle stays for it.
    if (!signature_replaced) staged.undo();
    return std::unexpected(std::move(written.error()));
  }
  dirs.keep();
  result.index = std::move(signed_index.index);
  return result;
}

Expected<std::vector<Wave>> parse_wave_list(std::string_view text) {
  auto refuse = [&](const std::string& why) {
    return fail(Errc::invalid_input, "waves '" + std::string(text) + "': " + why);
  };
  Rollout rollout;
  std::string_view rest = text;
  while (!rest.empty() || rollout.waves.empty()) {
    auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (comma != std::string_view::npos && rest.empty()) return refuse("ends with ','");
    auto colon = item.find(':');
    if (colon == std::string_view::npos)
      return refuse("'" + std::string(item) + "' is not FRACTION:DELAY");
    std::string_view fraction_text = item.substr(0, colon);
    Wave wave;
    auto [end, ec] = std::from_chars(fraction_text.data(),
                                     fraction_text.data() + fraction_text.size(), wave.fraction);
    if (ec != std::errc() || end != fraction_text.data() + fraction_text.size() ||
        fraction_text.empty()) {
      return refuse("'" + std::string(fraction_text) + "' is not a fraction");
    }
    auto delay = parse_duration(item.substr(colon + 1));
    if (!delay) return refuse(delay.error().message());
    wave.delay = *delay;
    rollout.waves.push_back(wave);
  }
  if (auto valid = check_rollout(rollout); !valid) return refuse(valid.error().message());
  return rollout.waves;
}

std::string format_wave_list(const std::vector<Wave>& waves) {
  std::string out;
  for (const Wave& wave : waves) {
    char fraction[32];
    auto [end, ec] = std::to_chars(fraction, fraction + sizeof fraction, wave.fraction);
    if (!out.empty()) out += ",";
    out += std::string(fraction, ec == std::errc() ? end : fraction) + ":" +
           format_duration(wave.delay);
  }
  return out;
}

}  // namespace cairn::fleet
