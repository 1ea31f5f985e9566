// The Hypervisor seam on libvirt's C API (libvirt-dev): peer-to-peer live migration, so that
// this host's libvirtd talks to the peer's over the admin network (qemu+ssh:// or qemu+tls://)
// and the guest's memory goes from QEMU to QEMU.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "updater/evacuation.hpp"

namespace cairn::updater {
namespace {

struct ConnectClose {
  void operator()(virConnectPtr connection) const { virConnectClose(connection); }
};
struct DomainFree {
  void operator()(virDomainPtr domain) const { virDomainFree(domain); }
};
using Connection = std::unique_ptr<virConnect, ConnectClose>;
using Domain = std::unique_ptr<virDomain, DomainFree>;

std::string libvirt_error() {
  const char* message = virGetLastErrorMessage();
  return message ? message : "unknown libvirt error";
}

// Calls virDomainAbortJob on `domain` unless disarmed within `timeout`: a migration that
// would outlast its time is cancelled (and QEMU keeps running the guest here).
class JobWatchdog {
 public:
  JobWatchdog(virDomainPtr domain, std::chrono::seconds timeout)
      : thread_([this, domain, timeout] {
          std::unique_lock lock(mutex_);
          if (!done_.wait_for(lock, timeout, [this] { return disarmed_; })) {
            fired_ = true;
            virDomainAbortJob(domain);
          }
        }) {}
  ~JobWatchdog() {
    {
      std::lock_guard lock(mutex_);
      disarmed_ = true;
    }
    done_.notify_all();
    thread_.join();
  }
  bool fired() {
    std::lock_guard lock(mutex_);
    return fired_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  bool disarmed_ = false;
  bool fired_ = false;
  std::thread thread_;
};

// The peer's host in its libvirt URI ("qemu+ssh://user@10.0.3.2:22/system?keyfile=…" gives
// "10.0.3.2"; an IPv6 literal keeps its brackets); empty when it names none.
std::string peer_host(const std::string& uri) {
  auto start = uri.find("://");
  if (start == std::string::npos) return {};
  std::string rest = uri.substr(start + 3);
  rest = rest.substr(0, rest.find_first_of("/?"));
  if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (rest.starts_with('[')) return rest.substr(0, rest.find(']') + 1);
  return rest.substr(0, rest.find(':'));
}

class LibvirtHypervisor final : public Hypervisor {
 public:
  explicit LibvirtHypervisor(std::string uri) : uri_(std::move(uri)) {}

  Expected<std::vector<std::string>> running_domains() override {
    CAIRN_CHECK(connect());
    virDomainPtr* list = nullptr;
    int count = virConnectListAllDomains(connection_.get(), &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (count < 0) return fail(Errc::unavailable, "listing the domains: " + libvirt_error());
    std::vector<std::string> names;
    for (int i = 0; i < count; ++i) {
      Domain domain(list[i]);
      if (const char* name = virDomainGetName(domain.get())) names.emplace_back(name);
    }
    free(list);  // NOLINT: libvirt allocated the array with malloc
    return names;
  }

  Status migrate(const std::string& name, const std::string& peer,
                 std::chrono::seconds timeout) override {
    auto domain = CAIRN_TRY(lookup(name));
    unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                     VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_ABORT_ON_ERROR;
    // The guest's memory goes to the address the peer's libvirt is reached at (the admin
    // network), not to whatever the peer's host name resolves to.
    std::string host = peer_host(peer);
    std::string stream = "tcp://" + host;
    virTypedParameter param{};
    int params = 0;
    if (!host.empty()) {
      std::snprintf(param.field, VIR_TYPED_PARAM_FIELD_LENGTH, "%s", VIR_MIGRATE_PARAM_URI);
      param.type = VIR_TYPED_PARAM_STRING;
      param.value.s = stream.data();
      params = 1;
    }
    int migrated = 0;
    bool timed_out = false;
    {
      JobWatchdog watchdog(domain.get(), timeout);
      migrated = virDomainMigrateToURI3(domain.get(), peer.c_str(), params ? &param : nullptr,
                                        params, flags);
      timed_out = watchdog.fired();
    }
    if (migrated == 0) return {};
    std::string why =
        timed_out ? "no end within " + std::to_string(timeout.count()) + " s" : libvirt_error();
    CAIRN_CHECK(keep_running_here(domain.get(), name));
    return fail(Errc::unavailable, "live migration of " + name + " to " + peer + " failed: " + why);
  }

  Status shut_down(const std::string& name, std::chrono::seconds timeout) override {
    auto domain = CAIRN_TRY(lookup(name));
    if (virDomainShutdown(domain.get()) < 0) {
      return fail(Errc::unavailable, "shutting " + name + " down: " + libvirt_error());
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (virDomainIsActive(domain.get()) == 1) {
      if (std::chrono::steady_clock::now() > deadline) {
        if (virDomainDestroy(domain.get()) < 0) {
          return fail(Errc::unavailable, "destroying " + name + " after " +
                                             std::to_string(timeout.count()) +
                                             " s of shutdown: " + libvirt_error());
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return {};
  }

 private:
  Status connect() {
    if (connection_) return {};
    // Errors are returned (libvirt_error), not also printed by libvirt's default handler.
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
    connection_.reset(virConnectOpen(uri_.c_str()));
    if (!connection_)
      return fail(Errc::unavailable, "connecting to " + uri_ + ": " + libvirt_error());
    return {};
  }

  Expected<Domain> lookup(const std::string& name) {
    CAIRN_CHECK(connect());
    Domain domain(virDomainLookupByName(connection_.get(), name.c_str()));
    if (!domain) return fail(Errc::not_found, "domain " + name + ": " + libvirt_error());
    return domain;
  }

  // After a failed migration the guest must still run on exactly one host: here. libvirt
  // resumes the source itself; a guest it left paused is resumed, one that is gone is an error.
  static Status keep_running_here(virDomainPtr domain, const std::string& name) {
    int state = 0, reason = 0;
    if (virDomainGetState(domain, &state, &reason, 0) < 0) {
      return fail(Errc::unavailable, "after a failed migration, the state of " + name +
                                         " is unknown: " + libvirt_error());
    }
    if (state == VIR_DOMAIN_PAUSED && virDomainResume(domain) < 0) {
      return fail(Errc::unavailable,
                  "after a failed migration, " + name + " stays paused here: " + libvirt_error());
    }
    return {};
  }

  std::string uri_;
  Connection connection_;
};

}  // namespace

std::unique_ptr<Hypervisor> libvirt_hypervisor(std::string uri) {
  return std::make_unique<LibvirtHypervisor>(std::move(uri));
}

}  // namespace cairn::updater
