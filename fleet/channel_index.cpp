#include "fleet/channel_index.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/hash.hpp"
#include "common/json_object.hpp"
#include "common/manifest.hpp"
#include "common/strict_json.hpp"
#include "common/version.hpp"

namespace cairn::fleet {

namespace {

using nlohmann::json;
using namespace std::chrono;

constexpr std::string_view kBundlesDir = "bundles/";
// A wave opening more than ten years after its rollout's start is a typo; bounding delays also
// keeps start + delay far from the limits of the clock's arithmetic.
constexpr seconds kMaxWaveDelay = days(3660);

// Text from an index or a command line inside an error: quoted, at most 64 characters, control
// and non-ASCII bytes escaped, so that a message stays one readable line whatever it quotes.
std::string printable(std::string_view text) {
  constexpr std::size_t kLimit = 64;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kLimit; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + (text.size() > kLimit ? "'…" : "'");
}

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Hosts fetch <repository>/<path>: a path must stay inside bundles/ whatever a URL resolver or a
// file server makes of it, so anything they would interpret ('..', '//', '\', '?', '#', '%') is
// refused rather than normalised.
Status check_bundle_path(std::string_view path) {
  auto refuse = [&](const std::string& why) {
    return fail(Errc::invalid_input, "path " + printable(path) + " " + why);
  };
  if (path.starts_with('/')) return refuse("must be relative to the repository");
  if (!path.starts_with(kBundlesDir)) return refuse("must be under bundles/");
  if (path.find("//") != std::string_view::npos) return refuse("must not contain '//'");
  if (path.find('\\') != std::string_view::npos) return refuse("must not contain '\\'");
  if (path.find_first_of("?#%") != std::string_view::npos) {
    return refuse("must not contain '?', '#' or '%'");
  }
  std::string_view rest = path.substr(kBundlesDir.size());
  if (rest.empty() || rest.ends_with('/')) return refuse("must name a file");
  while (!rest.empty()) {
    auto slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (part == "..") return refuse("must not contain '..'");
    if (!is_safe_member_name(part)) {
      return refuse("has " + printable(part) +
                    ", not a plain file name ([A-Za-z0-9._+-], no leading '.')");
    }
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  return {};
}

Expected<TimePoint> read_time(JsonObjectReader& reader, const std::string& key) {
  auto text = CAIRN_TRY(reader.string(key));
  auto when = parse_time(text);
  if (!when) return reader.invalid(key, when.error().message());
  return *when;
}

Expected<Rollout> parse_rollout(const json& object, const std::string& where) {
  JsonObjectReader reader(object, where);
  Rollout rollout;
  rollout.start = CAIRN_TRY(read_time(reader, "start"));
  auto max_failures = CAIRN_TRY(reader.unsigned_number("max_failures"));
  if (max_failures > UINT_MAX) return reader.invalid("max_failures", "is too large");
  rollout.max_failures = static_cast<unsigned>(max_failures);
  const json* waves = CAIRN_TRY(reader.array("waves"));
  for (std::size_t i = 0; i < waves->size(); ++i) {
    std::string wave_where = reader.where("waves") + "[" + std::to_string(i) + "]";
    CAIRN_CHECK(JsonObjectReader::require_object((*waves)[i], wave_where));
    JsonObjectReader wave_reader((*waves)[i], wave_where);
    Wave wave;
    wave.fraction = CAIRN_TRY(wave_reader.number("fraction"));
    auto delay = CAIRN_TRY(wave_reader.unsigned_number("delay_seconds"));
    if (delay > static_cast<std::uint64_t>(kMaxWaveDelay.count())) {
      return wave_reader.invalid(
          "delay_seconds",
          "is more than " + std::to_string(kMaxWaveDelay.count()) + " (ten years)");
    }
    wave.delay = seconds(static_cast<seconds::rep>(delay));
    CAIRN_CHECK(wave_reader.finish());
    rollout.waves.push_back(wave);
  }
  CAIRN_CHECK(reader.finish());
  if (auto valid = check_rollout(rollout); !valid) {
    return fail(Errc::invalid_input, where + ": " + valid.error().message());
  }
  return rollout;
}

Expected<BundleRef> parse_bundle_ref(const json& object, const std::string& where) {
  JsonObjectReader reader(object, where);
  BundleRef bundle;
  bundle.path = CAIRN_TRY(reader.string("path"));
  if (auto valid = check_bundle_path(bundle.path); !valid) {
    return reader.invalid("path", valid.error().message());
  }
  bundle.size = CAIRN_TRY(reader.unsigned_number("size"));
  if (bundle.size == 0) return reader.invalid("size", "must not be zero");
  bundle.sha256 = CAIRN_TRY(reader.string("sha256"));
  if (!is_lower_hex(bundle.sha256, 64)) {
    return reader.invalid("sha256", "must be 64 lower-case hex digits");
  }
  CAIRN_CHECK(reader.finish());
  return bundle;
}

Expected<ChannelEntry> parse_entry(const json& object, const std::string& where) {
  CAIRN_CHECK(JsonObjectReader::require_object(object, where));
  JsonObjectReader reader(object, where);
  ChannelEntry entry;
  entry.version = CAIRN_TRY(reader.string("version"));
  if (auto valid = check_version(entry.version); !valid) {
    return reader.invalid("version", valid.error().message());
  }
  entry.security_version = CAIRN_TRY(reader.unsigned_number("security_version"));
  entry.machine_class = CAIRN_TRY(reader.string("machine_class"));
  if (!is_safe_member_name(entry.machine_class)) {
    return reader.invalid("machine_class", printable(entry.machine_class) + " is not a plain name");
  }
  const json* bundle = CAIRN_TRY(reader.object("bundle"));
  entry.bundle = CAIRN_TRY(parse_bundle_ref(*bundle, reader.where("bundle")));
  entry.published = CAIRN_TRY(read_time(reader, "published"));
  const json* rollout = CAIRN_TRY(reader.object("rollout"));
  entry.rollout = CAIRN_TRY(parse_rollout(*rollout, reader.where("rollout")));
  auto state = parse_entry_state(CAIRN_TRY(reader.string("state")));
  if (!state) return reader.invalid("state", state.error().message());
  entry.state = *state;
  CAIRN_CHECK(reader.finish());
  return entry;
}

// Entries in the order hosts and people read them: by machine class, then oldest version first.
bool entry_order(const ChannelEntry& a, const ChannelEntry& b) {
  if (a.machine_class != b.machine_class) return a.machine_class < b.machine_class;
  return compare_versions(a.version, b.version) < 0;
}

}  // namespace

Status check_channel_name(std::string_view name) {
  auto refuse = [&](const std::string& why) {
    return fail(Errc::invalid_input, "channel name " + printable(name) + " " + why);
  };
  if (name.empty()) return fail(Errc::invalid_input, "the channel name is empty");
  if (name.size() > kMaxChannelNameLength) {
    return refuse("is longer than " + std::to_string(kMaxChannelNameLength) + " characters");
  }
  if (!is_name_start(name.front())) return refuse("must start with a lower-case letter or a digit");
  if (!std::ranges::all_of(
          name, [](char c) { return is_name_start(c) || c == '.' || c == '_' || c == '-'; })) {
    return refuse("may hold only lower-case letters, digits, '.', '_' and '-'");
  }
  return {};
}

Status check_rollout(const Rollout& rollout) {
  if (rollout.max_failures < 1) return fail(Errc::invalid_input, "max_failures must be at least 1");
  if (rollout.waves.empty()) return fail(Errc::invalid_input, "waves: at least one wave is needed");
  for (std::size_t i = 0; i < rollout.waves.size(); ++i) {
    const Wave& wave = rollout.waves[i];
    std::string where = "waves[" + std::to_string(i) + "]: ";
    if (!(wave.fraction > 0 && wave.fraction <= 1)) {
      return fail(Errc::invalid_input, where + "fraction must be in (0, 1]");
    }
    if (wave.delay < seconds(0))
      return fail(Errc::invalid_input, where + "delay must not be negative");
    if (wave.delay > kMaxWaveDelay)
      return fail(Errc::invalid_input, where + "delay is more than ten years");
    if (i == 0) continue;
    const Wave& before = rollout.waves[i - 1];
    if (wave.fraction <= before.fraction) {
      return fail(Errc::invalid_input, where + "fraction must be larger than the wave before's");
    }
    if (wave.delay <= before.delay) {
      return fail(Errc::invalid_input, where + "delay must be longer than the wave before's");
    }
  }
  return {};
}

Expected<ChannelIndex> parse_channel_index(std::string_view text) {
  json root = CAIRN_TRY(parse_strict_json(text, "channel index"));
  CAIRN_CHECK(JsonObjectReader::require_object(root, "channel index"));
  JsonObjectReader reader(root, "channel index");
  if (CAIRN_TRY(reader.unsigned_number("format")) != kChannelIndexFormat) {
    return reader.invalid(
        "format", "this Cairn reads format " + std::to_string(kChannelIndexFormat) + " only");
  }
  ChannelIndex index;
  index.channel = CAIRN_TRY(reader.string("channel"));
  if (auto valid = check_channel_name(index.channel); !valid) {
    return reader.invalid("channel", valid.error().message());
  }
  index.serial = CAIRN_TRY(reader.unsigned_number("serial"));
  index.expires = CAIRN_TRY(read_time(reader, "expires"));
  const json* entries = CAIRN_TRY(reader.array("entries"));
  std::set<std::pair<std::string, std::string>> seen;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    std::string where = reader.where("entries") + "[" + std::to_string(i) + "]";
    auto entry = CAIRN_TRY(parse_entry((*entries)[i], where));
    // Two entries for one version of one class could roll out differently: which one a host
    // obeys must never depend on the order it reads them in.
    if (!seen.emplace(entry.machine_class, entry.version).second) {
      return fail(Errc::invalid_input, where + ": version " + entry.version + " of machine class " +
                                           entry.machine_class + " is listed twice");
    }
    index.entries.push_back(std::move(entry));
  }
  CAIRN_CHECK(reader.finish());
  return index;
}

std::string channel_index_json(const ChannelIndex& index) {
  using ordered = nlohmann::ordered_json;
  std::vector<const ChannelEntry*> sorted;
  for (const auto& entry : index.entries) sorted.push_back(&entry);
  std::ranges::stable_sort(sorted, [](auto* a, auto* b) { return entry_order(*a, *b); });
  ordered entries = ordered::array();
  for (const ChannelEntry* entry : sorted) {
    ordered waves = ordered::array();
    for (const Wave& wave : entry->rollout.waves) {
      waves.push_back({{"fraction", wave.fraction}, {"delay_seconds", wave.delay.count()}});
    }
    entries.push_back({{"version", entry->version},
                       {"security_version", entry->security_version},
                       {"machine_class", entry->machine_class},
                       {"bundle",
                        {{"path", entry->bundle.path},
                         {"size", entry->bundle.size},
                         {"sha256", entry->bundle.sha256}}},
                       {"published", format_time(entry->published)},
                       {"rollout",
                        {{"start", format_time(entry->rollout.start)},
                         {"max_failures", entry->rollout.max_failures},
                         {"waves", waves}}},
                       {"state", entry_state_name(entry->state)}});
  }
  ordered root = {{"format", index.format},
                  {"channel", index.channel},
                  {"serial", index.serial},
                  {"expires", format_time(index.expires)},
                  {"entries", entries}};
  // Replacing invalid UTF-8 instead of throwing: an index built in memory is only ever published
  // after it parsed back (channel_repo), which such bytes would not.
  return root.dump(2, ' ', false, ordered::error_handler_t::replace) + "\n";
}

std::string format_time(TimePoint when) {
  auto day = floor<days>(when);
  year_month_day date(day);
  hh_mm_ss time(when - day);
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return text;
}

Expected<TimePoint> parse_time(std::string_view text) {
  auto refuse = [&](const std::string& why) {
    return fail(Errc::invalid_input, "time " + printable(text) + " " + why);
  };
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
  bool shaped = text.size() == kShape.size();
  for (std::size_t i = 0; shaped && i < text.size(); ++i) {
    shaped = kShape[i] == 'd' ? text[i] >= '0' && text[i] <= '9' : text[i] == kShape[i];
  }
  if (!shaped) return refuse("is not RFC 3339 UTC to the second (YYYY-MM-DDTHH:MM:SSZ)");
  auto number = [&](std::size_t at, std::size_t length) {
    int value = 0;
    for (std::size_t i = at; i < at + length; ++i) value = value * 10 + (text[i] - '0');
    return value;
  };
  year_month_day date{year(number(0, 4)), month(static_cast<unsigned>(number(5, 2))),
                      day(static_cast<unsigned>(number(8, 2)))};
  if (!date.ok()) return refuse("is not a date");
  int hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  // No leap second (:60): UTC days of 86400 seconds are what both ends compute with.
  if (hour > 23 || minute > 59 || second > 59) return refuse("is not a time of day");
  return TimePoint(sys_days(date)) + hours(hour) + minutes(minute) + seconds(second);
}

Expected<ChannelIndex> verify_channel_index_signature(std::string_view index_bytes,
                                                      std::string_view signature,
                                                      SignatureVerifier& verifier) {
  // Nothing of the index is read before its signature holds: not even its name or serial, which
  // an attacker would otherwise choose.
  CAIRN_CHECK(
      with_context(verifier.verify(index_bytes, signature), "the channel index's signature"));
  return parse_channel_index(index_bytes);
}

Expected<ChannelIndex> verify_channel_index(std::string_view index_bytes,
                                            std::string_view signature, SignatureVerifier& verifier,
                                            const IndexExpectations& expected) {
  auto index = CAIRN_TRY(verify_channel_index_signature(index_bytes, signature, verifier));
  // A signed index of another channel (stable's served as staging's, or the reverse) is a real
  // signature in the wrong place.
  if (index.channel != expected.channel) {
    return fail(Errc::integrity, "the index is of channel " + printable(index.channel) +
                                     ", not of " + printable(expected.channel));
  }
  if (expected.now >= index.expires) {
    return fail(Errc::integrity, "channel index expired at " + format_time(index.expires));
  }
  if (expected.last_serial && index.serial < *expected.last_serial) {
    return fail(Errc::integrity, "replayed: serial " + std::to_string(index.serial) +
                                     " is older than " + std::to_string(*expected.last_serial) +
                                     " already seen");
  }
  return index;
}

}  // namespace cairn::fleet
