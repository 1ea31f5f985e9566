#include "updater/poll_state.hpp"

#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/strict_json.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kStateFile = "fleet.json";
constexpr const char* kIndexFile = "fleet-index.json";
constexpr const char* kSignatureFile = "fleet-index.json.sig";

// The file is this host's own: a wrong type is corruption, reported with the key's name.
template <typename T>
Status read_field(const json& object, const char* key, T& out) {
  auto it = object.find(key);
  if (it == object.end()) return {};
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    return fail(Errc::invalid_input,
                std::string(kStateFile) + ": '" + key + "' has the wrong type");
  }
  return {};
}

}  // namespace

Expected<PollState> load_poll_state(const fs::path& state_dir) {
  std::error_code ec;
  if (!fs::exists(state_dir / kStateFile, ec)) return PollState{};
  auto text = CAIRN_TRY(read_file(state_dir / kStateFile));
  json root = CAIRN_TRY(parse_strict_json(text, (state_dir / kStateFile).string()));
  if (!root.is_object()) {
    return fail(Errc::invalid_input, (state_dir / kStateFile).string() + ": not a JSON object");
  }
  PollState state;
  if (root.contains("last_serial")) {
    std::uint64_t serial = 0;
    CAIRN_CHECK(read_field(root, "last_serial", serial));
    state.last_serial = serial;
  }
  CAIRN_CHECK(read_field(root, "etag", state.etag));
  CAIRN_CHECK(read_field(root, "lease", state.lease));
  CAIRN_CHECK(read_field(root, "published", state.published));
  CAIRN_CHECK(read_field(root, "reported", state.reported));
  if (auto it = root.find("adopted"); it != root.end() && it->is_object()) {
    AdoptedUpdate adopted;
    CAIRN_CHECK(read_field(*it, "version", adopted.version));
    CAIRN_CHECK(read_field(*it, "channel", adopted.channel));
    CAIRN_CHECK(read_field(*it, "max_failures", adopted.max_failures));
    state.adopted = adopted;
  }
  if (auto it = root.find("last_poll"); it != root.end() && it->is_object()) {
    LastPoll last;
    CAIRN_CHECK(read_field(*it, "at", last.at));
    CAIRN_CHECK(read_field(*it, "ok", last.ok));
    CAIRN_CHECK(read_field(*it, "message", last.message));
    state.last = last;
  }
  return state;
}

namespace {

json state_json(const PollState& state) {
  json root = json::object();
  if (state.last_serial) root["last_serial"] = *state.last_serial;
  root["etag"] = state.etag;
  root["lease"] = state.lease;
  root["published"] = state.published;
  root["reported"] = state.reported;
  if (state.adopted) {
    root["adopted"] = {{"version", state.adopted->version},
                       {"channel", state.adopted->channel},
                       {"max_failures", state.adopted->max_failures}};
  }
  if (state.last) {
    root["last_poll"] = {
        {"at", state.last->at}, {"ok", state.last->ok}, {"message", state.last->message}};
  }
  return root;
}

}  // namespace

Status save_poll_state(const fs::path& state_dir, const PollState& state, bool durable) {
  std::string text = state_json(state).dump(2) + "\n";
  return durable ? write_file_atomic(state_dir / kStateFile, text)
                 : replace_file(state_dir / kStateFile, text);
}

bool differs_beyond_poll_time(const PollState& a, const PollState& b) {
  json left = state_json(a), right = state_json(b);
  for (json* side : {&left, &right}) {
    if (side->contains("last_poll")) (*side)["last_poll"].erase("at");
  }
  return left != right;
}

Expected<std::optional<CachedIndex>> load_cached_index(const fs::path& state_dir) {
  std::error_code ec;
  if (!fs::exists(state_dir / kIndexFile, ec) || !fs::exists(state_dir / kSignatureFile, ec)) {
    return std::optional<CachedIndex>();
  }
  return std::optional<CachedIndex>(CachedIndex{
      .index = CAIRN_TRY(read_file(state_dir / kIndexFile)),
      .signature = CAIRN_TRY(read_file(state_dir / kSignatureFile)),
  });
}

Status save_cached_index(const fs::path& state_dir, const CachedIndex& cached) {
  // Either file alone is useless: each is checked against the other on every use.
  CAIRN_CHECK(write_file_atomic(state_dir / kSignatureFile, cached.signature));
  return write_file_atomic(state_dir / kIndexFile, cached.index);
}

}  // namespace cairn::updater
