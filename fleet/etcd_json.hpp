// The JSON of etcd's v3 gateway (grpc-gateway, proto3's JSON mapping), read defensively: int64
// travels as a JSON string, bytes as base64, and every field at its zero value is left out (an
// empty value has no "value", a failed txn no "succeeded", a delete of nothing no "deleted"), so
// absent means zero here. A field of the wrong type is an error (Errc::unavailable: the server is
// not a working etcd), never an exception.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "fleet/etcd_client.hpp"

namespace cairn::fleet {

// Keys and etcd's messages inside our messages: printable ASCII, other bytes as \xNN, at most
// `limit` bytes, so an error stays one line of valid UTF-8 whatever a key or a server holds.
std::string printable(std::string_view bytes, std::size_t limit = 200);

// The end of the range of every key starting with `prefix`: the prefix with its last byte below
// 0xff incremented and what follows it dropped; "\0" (every key) when there is no such byte.
std::string prefix_end(std::string_view prefix);

Expected<std::int64_t> int64_field(const nlohmann::json& object, const char* key);
Expected<std::string> bytes_field(const nlohmann::json& object, const char* key);
Expected<bool> bool_field(const nlohmann::json& object, const char* key);
// The "kvs" of a RangeResponse.
Expected<std::vector<EtcdKeyValue>> parse_range(const nlohmann::json& answer);

// What an answer says went wrong: etcd's message and the gRPC code (-1: none given).
struct EtcdFailure {
  std::string message;
  std::int64_t grpc_code = -1;
};

// The failure an answer reports: {"error", "message", "code"} (unary calls), {"error":
// {"message", "grpc_code"}} (streams), or a bare "error" string (LeaseGrantResponse has one,
// left out when empty like every zero value); none for an answer without "error".
std::optional<EtcdFailure> reported_failure(const nlohmann::json& answer);

// A fleet name, group, host id or version becomes one segment of a key: a '/' in it would put
// the key under another's prefix (outcomes/1.0/x under outcomes/1.0's listing of hosts, for
// one). Errc::invalid_input naming `what`.
Status check_key_segment(std::string_view what, std::string_view text);

// A gRPC status code as ours: NotFound is not_found, InvalidArgument invalid_input, …
Errc errc_of(std::int64_t grpc_code);

}  // namespace cairn::fleet
