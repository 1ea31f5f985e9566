// The timer's way to the daemon's poll: cairn-update-poll.socket (a Unix socket only root may
// open, handed to cairn-update.service as the file descriptor named "poll") and
// cairn-poll-trigger, the static program cairn-update-poll.service runs. Connecting is the
// request; when the poll ends the daemon writes one line, "ok MESSAGE" or "failed MESSAGE", and
// closes. Why not D-Bus: any client of the bus is a dynamically linked process (dbus-send loads
// libdbus and libsystemd, 10 libraries), and on a quiet poll that start-up costs more CPU than
// the poll itself (bench/poll); a static program with one connect() costs a fraction of it.
// The D-Bus method Poll() stays, for `cairn-update poll` and other clients of the bus.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "updater/poll.hpp"

namespace cairn::updater {

inline constexpr std::string_view kPollTriggerName = "poll";  // FileDescriptorName= of the socket
inline constexpr std::string_view kPollTriggerPath = "/run/cairn-update/poll.socket";

// The listening socket systemd passed as "poll" (sd_listen_fds), if it passed one.
std::optional<int> passed_poll_trigger();

// Accepts a connection on `listening`: a caller that is neither root nor this process's user is
// refused (the socket's mode should already keep it out). Errc::permission tells why.
Expected<UniqueFd> accept_poll_trigger(int listening);

// The answer line for a poll's result (one line: newlines in messages become spaces).
std::string poll_trigger_answer(const Expected<PollResult>& result);

// Writes `answer` and closes the connection; a caller that left already is no error.
void send_poll_trigger_answer(UniqueFd connection, std::string_view answer);

}  // namespace cairn::updater
