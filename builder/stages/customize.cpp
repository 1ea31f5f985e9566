#include "builder/stages/customize.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "builder/chroot.hpp"
#include "builder/stages/harden.hpp"
#include "common/fs.hpp"
#include "common/os_release.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStage = "customize";

Status write_text(const fs::path& path, std::string_view text, unsigned mode = 0644) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return fail(Errc::io, "create " + path.parent_path().string() + ": " + ec.message());
  return write_file_atomic(path, text, mode);
}

Status copy_tree(ProcessRunner& runner, const fs::path& from, const fs::path& to) {
  // cp keeps hard links, xattrs (file capabilities) and ownership; reflinks where supported.
  return run_step(runner,
                  {.argv = {"cp", "-a", "--reflink=auto", from.string() + "/.", to.string()}},
                  "copying " + from.string());
}

Status apply_overlay(ProcessRunner& runner, const fs::path& overlay, const fs::path& tree) {
  if (overlay.empty()) return {};
  // Overlay files come from a git checkout: their owner is whoever cloned it, so force root.
  return run_step(
      runner,
      {.argv = {"cp", "-a", "--no-preserve=ownership", overlay.string() + "/.", tree.string()}},
      "applying overlay " + overlay.string());
}

Status add_users(ProcessRunner& runner, const CustomizeInput& input, const fs::path& tree) {
  auto in_tree = [&](std::vector<std::string> argv) {
    return run_step(runner, chroot_command(tree, std::move(argv), input.source_date_epoch));
  };
  // Root stays locked: no password, no key. Administrators log in with their own keys.
  CAIRN_CHECK(with_context(in_tree({"usermod", "-p", "!*", "root"}), "locking root"));
  if (input.users.empty()) return {};
  // The two roles of DAT-NT-011 R7: the hardening profile's libvirt ACL and sshd name them.
  for (const char* group : {"cairn-admin", "cairn-vm-operator"}) {
    CAIRN_CHECK(with_context(in_tree({"groupadd", "-f", "--system", group}),
                             std::string("creating group ") + group));
  }
  std::string tmpfiles = "d /var/home 0755 root root -\n";
  for (const auto& user : input.users) {
    std::string groups = user.role == "operator" ? "cairn-vm-operator" : "cairn-admin";
    for (const auto& group : user.groups) groups += "," + group;
    CAIRN_CHECK(with_context(
        in_tree({"useradd", "--no-create-home", "--home-dir", "/var/home/" + user.name, "--shell",
                 "/bin/bash", "--groups", groups, "--user-group", user.name}),
        "adding admin user '" + user.name + "'"));
    std::string keys;
    for (const auto& key : user.ssh_keys) keys += key + "\n";
    // Keys live in the read-only image, so they change only with a new image.
    CAIRN_CHECK(write_text(tree / "etc/ssh/authorized_keys" / user.name, keys));
    tmpfiles += "d /var/home/" + user.name + " 0700 " + user.name + " " + user.name + " -\n";
  }
  CAIRN_CHECK(write_text(tree / "usr/lib/tmpfiles.d/cairn-home.conf", tmpfiles));
  if (fs::exists(tree / "etc/sudoers.d")) {
    CAIRN_CHECK(write_text(tree / "etc/sudoers.d/cairn-admin",
                           "# Cairn admins have no password, so sudo cannot ask for one.\n"
                           "%cairn-admin ALL=(ALL:ALL) NOPASSWD: ALL\n",
                           0440));
  }
  return {};
}

// Files that must not be the same on every host, or that differ between two identical builds.
Status remove_host_identity(const fs::path& tree) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tree / "etc/ssh", ec)) {
    if (entry.path().filename().string().starts_with("ssh_host_")) fs::remove(entry.path(), ec);
  }
  // The machine-id identifies one host, so it lives on /var (mounted by the initrd): PID 1 creates
  // it through this link on first boot and finds it again on every later boot, whichever slot.
  fs::remove(tree / "etc/machine-id", ec);
  fs::create_symlink("../var/machine-id", tree / "etc/machine-id", ec);
  if (ec) return fail(Errc::io, "linking /etc/machine-id to /var: " + ec.message());
  fs::remove(tree / "var/lib/dbus/machine-id", ec);
  // etc/hostname: mmdebstrap copies the build machine's name; without the file a host takes its
  // name from DHCP, else "localhost".
  for (const char* path :
       {"etc/hostname", "var/lib/systemd/random-seed", "var/cache/ldconfig/aux-cache",
        "etc/.pwd.lock", "etc/passwd-", "etc/group-", "etc/shadow-", "etc/gshadow-", "etc/subuid-",
        "etc/subgid-", "var/lib/dpkg/status-old", "var/lib/dpkg/diversions-old",
        "var/lib/dpkg/statoverride-old", "var/cache/debconf/config.dat-old",
        "var/cache/debconf/templates.dat-old", "var/log/dpkg.log", "var/log/alternatives.log",
        "var/log/bootstrap.log"}) {
    fs::remove(tree / path, ec);
  }
  // Device nodes: devtmpfs provides /dev at boot, and OSTree cannot store them.
  for (const auto& entry : fs::directory_iterator(tree / "dev", ec))
    fs::remove_all(entry.path(), ec);
  fs::remove_all(tree / "var/log/apt", ec);
  fs::remove_all(tree / "var/lib/apt/lists", ec);
  for (const auto& entry : fs::directory_iterator(tree / "var/cache/apt", ec)) {
    if (entry.path().extension() == ".bin") fs::remove(entry.path(), ec);
  }
  return {};
}

Expected<std::string> find_kernel_version(const fs::path& tree) {
  std::vector<std::string> versions;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tree / "usr/lib/modules", ec)) {
    if (fs::exists(tree / "boot" / ("vmlinuz-" + entry.path().filename().string()))) {
      versions.push_back(entry.path().filename().string());
    }
  }
  if (versions.empty()) {
    return fail(Errc::not_found,
                "no kernel in the image: add a linux-image package to "
                "debian.packages");
  }
  if (versions.size() > 1) {
    return fail(Errc::invalid_input, "more than one kernel in the image (" + versions[0] + ", " +
                                         versions[1] + "): list a single linux-image package");
  }
  return versions[0];
}

Expected<std::vector<std::string>> installed_packages(ProcessRunner& runner, const fs::path& tree) {
  auto text = CAIRN_TRY(
      run_checked(runner, {.argv = {"dpkg-query", "--admindir=" + (tree / "var/lib/dpkg").string(),
                                    "-W", "-f=${Package}=${Version}\\n"},
                           .capture_stdout = true}));
  std::vector<std::string> packages;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) packages.push_back(line);
  }
  std::sort(packages.begin(), packages.end());
  return packages;
}

// /var is mounted by the initrd (x-initrd.mount in fstab), so that PID 1 finds the host's
// persistent machine-id there; on first boot the initrd formats and grows the empty partition.
constexpr const char* kInitrdVarTools =
    "/usr/lib/systemd/systemd-makefs /usr/lib/systemd/systemd-growfs "
    "/usr/sbin/mkfs.ext4 /usr/sbin/mke2fs /usr/sbin/e2fsck /usr/sbin/fsck.ext4 /etc/mke2fs.conf";

// systemd-pcrphase measures "enter-initrd" and "leave-initrd" into PCR 11 (attestation predicts
// them). It needs ESYS and the device TCTI, nothing more: dracut's own tpm2-tss module would add
// FAPI, curl, json-c and tpm2-tools (for TPM-sealed LUKS, which Cairn does not use). dracut
// installs no dependencies of a listed library, hence libtss2-sys (ESYS needs it).
constexpr const char* kInitrdPcrPhase =
    "/usr/lib/systemd/systemd-pcrphase /usr/lib/systemd/system/systemd-pcrphase-initrd.service "
    "/usr/lib/systemd/system/initrd.target.wants/systemd-pcrphase-initrd.service "
    "/usr/lib/x86_64-linux-gnu/libtss2-esys.so.0 /usr/lib/x86_64-linux-gnu/libtss2-sys.so.1 "
    "/usr/lib/x86_64-linux-gnu/libtss2-mu.so.0 "
    "/usr/lib/x86_64-linux-gnu/libtss2-rc.so.0 /usr/lib/x86_64-linux-gnu/libtss2-tctildr.so.0 "
    "/usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0";

// The initrd is hashed by the firmware (Secure Boot, PCR 4), by systemd-stub (PCR 11) and by the
// EFI stub (PCR 9) in every active PCR bank, then unpacked by the kernel: under TCG each of its
// megabytes costs boot time. A generic (non-hostonly) initrd still keeps every storage driver,
// but only the filesystems a Cairn root and /var use (the default carries all of them, 17 MB)
// and none of the dracut modules for features a Cairn host does not boot with: LUKS, hibernation
// resume, NVDIMM, LUN masking, a virtiofs or overlay root, a separate /usr. dracut-systemd runs
// dracut's shell hooks as services (about 3 s under TCG); systemd's own generators already set
// up the verity root and the /var mount from the command line and fstab.
constexpr const char* kInitrdFilesystems = "erofs ext4";
constexpr const char* kInitrdOmittedModules =
    "crypt resume nvdimm lunmask virtiofs overlay-root usrmount terminfo dracut-systemd";
// Kernel modules dracut would still pull in that no Cairn boot can use (measured: 7.6 of 20.5 MB
// of the cloud kernel's modules, 16.7 of 70 MB of the full kernel's; about 0.28 s of firmware
// time per compressed MB under TCG). The root is one dm-verity device on a plain GPT disk: no md
// RAID, bcache or other device-mapper targets. The initrd has no network, so no iSCSI, FCoE, SRP,
// Ceph/RBD, NBD or ATA-over-Ethernet root, nor the NICs and RDMA stacks their offload drivers
// pull in; no SCSI target or test devices; no SDIO Wi-Fi (pulled in by the MMC host drivers) or
// laptop platform drivers. Regular expressions on module names, anchored by dracut; written with
// underscores as kmod names modules (dracut turns only the first '-' of the list into '_').
constexpr const char* kInitrdOmittedDrivers =
    "md_mod raid0 raid1 raid10 raid456 linear multipath faulty bcache raid6_pq xor "
    "async_memcpy async_pq async_raid6_recov async_tx async_xor "
    "dm_(bio_prison|cache|cache_smq|clone|crypt|delay|dust|ebs|era|flakey|historical_service_time|"
    "integrity|io_affinity|log|log_userspace|log_writes|mirror|multipath|persistent_data|"
    "queue_length|raid|region_hash|round_robin|service_time|snapshot|switch|thin_pool|unstripe|"
    "writecache|zero|zoned) "
    "libceph rbd nbd aoe drbd target_core_(mod|user|iblock|file|pscsi) tcm_loop scsi_debug "
    "null_blk iscsi_tcp libiscsi libiscsi_tcp be2iscsi bnx2i bnx2fc cnic qedi qedf qed cxgb3i "
    "cxgb4i libcxgbi cxgb4 ib_iser ib_srp ib_core ib_cm iw_cm rdma_cm libfcoe fcoe "
    "libertas libertas_sdio cfg80211 surface_aggregator";

Status build_initrd(ProcessRunner& runner, const CustomizeInput& input, const fs::path& tree,
                    const std::string& kver, Progress& progress) {
  // tpm_tis/tpm_crb: systemd-pcrphase measures "enter-initrd" before the root is up (built into
  // Debian's cloud kernel, kept explicit for kernels that build them as modules).
  std::string drivers = "erofs dm_verity tpm_tis tpm_crb";
  for (const auto& driver : input.initrd_drivers) drivers += " " + driver;
  std::string target = "/usr/lib/modules/" + kver + "/initrd";
  std::string install = kInitrdVarTools;
  if (fs::exists(tree / "usr/lib/x86_64-linux-gnu/libtss2-esys.so.0")) {
    install = install + " " + kInitrdPcrPhase;
  }
  // zstd level 3 on all cores: dracut's default (-15, one thread) takes 2.7x as long for an
  // initrd 13 % smaller — not worth it for a file that lives inside a signed UKI.
  std::vector<std::string> argv{"dracut", "--reproducible", "--no-hostonly", "--force", "--quiet"};
  for (const auto& [option, value] : std::initializer_list<std::pair<const char*, std::string>>{
           {"--compress", "zstd -3 -T0"},
           {"--add", "systemd-veritysetup"},
           {"--omit", kInitrdOmittedModules},
           {"--omit-drivers", kInitrdOmittedDrivers},
           {"--filesystems", kInitrdFilesystems},
           {"--install", install},
           {"--add-drivers", drivers},
           {"--kver", kver}}) {
    argv.insert(argv.end(), {option, value});
  }
  argv.push_back(target);
  Command command = chroot_command(tree, std::move(argv), input.source_date_epoch);
  command.on_stderr_line = [&](std::string_view line) { progress.stage_detail(kStage, line); };
  CAIRN_CHECK(run_step(runner, command, "building the initrd with dracut"));
  // Debian's kernel hook made its own (host-specific, timestamped) initrd: not ours.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tree / "boot", ec)) {
    if (entry.path().filename().string().starts_with("initrd.img")) fs::remove(entry.path(), ec);
  }
  return {};
}

std::string mode_string(fs::perms perms) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%04o", static_cast<unsigned>(perms) & 07777);
  return buffer;
}

// /var is a separate, writable partition shared by both slots, empty on first boot. The image's
// /var moves to /usr/share/factory/var and tmpfiles copies what is missing at boot.
Status seed_factory_var(const fs::path& tree) {
  fs::path var = tree / "var";
  fs::path factory = tree / "usr/share/factory/var";
  std::error_code ec;
  fs::remove_all(factory, ec);
  fs::create_directories(factory.parent_path(), ec);
  fs::rename(var, factory, ec);
  if (ec) return fail(Errc::io, "moving /var to the factory copy: " + ec.message());
  fs::create_directory(var, ec);
  fs::permissions(var, fs::perms(0755), ec);
  auto tmpfiles = CAIRN_TRY(factory_var_tmpfiles(factory));
  return write_text(tree / "usr/lib/tmpfiles.d/cairn-factory-var.conf", tmpfiles);
}

}  // namespace

std::string image_os_release(std::string_view debian_os_release, std::string_view name,
                             std::string_view version, std::uint64_t security_version) {
  std::string out;
  std::istringstream lines{std::string(debian_os_release)};
  std::string debian_pretty;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("IMAGE_ID=") || line.starts_with("IMAGE_VERSION=") ||
        line.starts_with(std::string(kSecurityVersionField) + "=")) {
      continue;
    }
    if (line.starts_with("PRETTY_NAME=")) {
      debian_pretty = line.substr(12);
      std::erase(debian_pretty, '"');
      continue;
    }
    out += line + "\n";
  }
  out += "PRETTY_NAME=\"Cairn " + std::string(name) + " " + std::string(version) + " (" +
         debian_pretty + ")\"\n";
  out += "IMAGE_ID=cairn-" + std::string(name) + "\n";
  out += "IMAGE_VERSION=" + std::string(version) + "\n";
  out += std::string(kSecurityVersionField) + "=" + std::to_string(security_version) + "\n";
  return out;
}

Expected<std::string> factory_var_tmpfiles(const fs::path& var_dir) {
  std::vector<fs::path> tops;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(var_dir, ec)) tops.push_back(entry.path());
  if (ec) return fail(Errc::io, "reading " + var_dir.string() + ": " + ec.message());
  std::sort(tops.begin(), tops.end());
  std::string out = "# Written by cairn-build: recreate the image's /var on an empty partition.\n";
  auto owner = [](const fs::path& path) {
    struct stat st {};
    ::lstat(path.c_str(), &st);
    return std::to_string(st.st_uid) + " " + std::to_string(st.st_gid);
  };
  for (const auto& top : tops) {
    std::string name = "/var/" + top.filename().string();
    auto status = fs::symlink_status(top);
    if (fs::is_symlink(status)) {
      out += "L " + name + " - - - - " + fs::read_symlink(top).string() + "\n";
      continue;
    }
    if (!fs::is_directory(status)) {
      out += "C " + name + " - - - - /usr/share/factory" + name + "\n";
      continue;
    }
    out += "d " + name + " " + mode_string(status.permissions()) + " " + owner(top) + " -\n";
    std::vector<fs::path> children;
    for (const auto& child : fs::directory_iterator(top, ec)) children.push_back(child.path());
    std::sort(children.begin(), children.end());
    for (const auto& child : children) {
      std::string child_name = name + "/" + child.filename().string();
      out += "C " + child_name + " - - - - /usr/share/factory" + child_name + "\n";
    }
  }
  return out;
}

Expected<CustomizeOutput> customize_tree(const CustomizeInput& input, ProcessRunner& runner,
                                         Progress& progress) {
  CustomizeOutput output;
  output.tree = input.work_dir / "tree";
  std::error_code ec;
  fs::create_directories(output.tree, ec);
  progress.stage_detail(kStage, "copying the base tree");
  CAIRN_CHECK(copy_tree(runner, input.base_tree, output.tree));
  progress.stage_detail(kStage, "applying the overlay");
  CAIRN_CHECK(apply_overlay(runner, input.overlay, output.tree));
  if (input.profile) {
    progress.stage_detail(kStage, "hardening profile " + input.profile->name);
    CAIRN_CHECK(apply_hardening(*input.profile, input.hardening_vars, output.tree));
  }
  progress.stage_detail(kStage, "users");
  CAIRN_CHECK(add_users(runner, input, output.tree));
  for (const auto& [verb, units] :
       {std::pair{"enable", &input.enable_units}, std::pair{"disable", &input.disable_units}}) {
    for (const auto& unit : *units) {
      CAIRN_CHECK(run_step(runner,
                           {.argv = {"systemctl", "--root=" + output.tree.string(), verb, unit}},
                           std::string("systemctl ") + verb + " " + unit));
    }
  }
  output.kernel_version = CAIRN_TRY(find_kernel_version(output.tree));
  output.kernel = output.tree / "boot" / ("vmlinuz-" + output.kernel_version);
  output.initrd = output.tree / "usr/lib/modules" / output.kernel_version / "initrd";
  progress.stage_detail(kStage, "initrd (dracut)");
  CAIRN_CHECK(build_initrd(runner, input, output.tree, output.kernel_version, progress));

  fs::path os_release_path = output.tree / "usr/lib/os-release";
  auto debian = CAIRN_TRY(read_file(os_release_path));
  output.os_release =
      image_os_release(debian, input.image_name, input.image_version, input.image_security_version);
  fs::remove(os_release_path, ec);  // it may be a hard link shared with the cached tree
  CAIRN_CHECK(write_text(os_release_path, output.os_release));

  output.packages = CAIRN_TRY(installed_packages(runner, output.tree));
  CAIRN_CHECK(remove_host_identity(output.tree));
  CAIRN_CHECK(seed_factory_var(output.tree));
  // Mount point of the ESP (fstab): systemd-bless-boot renames the boot entry there.
  fs::create_directories(output.tree / "efi", ec);
  if (ec) return fail(Errc::io, "creating /efi: " + ec.message());
  return output;
}

}  // namespace cairn::builder
