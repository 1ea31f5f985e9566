#include "builder/stages/commit.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <map>

#include "builder/ostree_repo.hpp"
#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;

namespace {

constexpr const char* kRef = "cairn/t/x86_64";

// Records what it was asked to sign; its "signature" has bytes a string would cut short.
class RecordingSigner final : public Signer {
 public:
  Expected<std::string> sign(std::string_view data) override {
    signed_data.emplace_back(data);
    return std::string("\0DER\xff", 5) + std::string(data);
  }
  std::vector<std::string> signed_data;
};

class RecordingProgress final : public Progress {
 public:
  void stage_started(std::string_view) override {}
  void stage_detail(std::string_view, std::string_view detail) override {
    details.emplace_back(detail);
  }
  void stage_fraction(std::string_view, double) override {}
  void stage_finished(std::string_view, std::chrono::duration<double>) override {}
  std::vector<std::string> details;
};

struct Fixture {
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-commit-").value();
  fs::path repo = dir.path() / "repo";
  fs::path staging = dir.path() / "staging";
  RecordingProgress progress;

  fs::path path(const std::string& name) const { return dir.path() / name; }

  CommitOutput commit(const fs::path& tree, const std::string& version, Signer* signer = nullptr,
                      std::int64_t epoch = 1700000000, bool consume = false) {
    auto out = commit_tree_to_repo({.repo = repo,
                                    .staging_repo = staging,
                                    .tree = tree,
                                    .ref = kRef,
                                    .version = version,
                                    .recipe_digest = "digest",
                                    .packages = {"libc6=2.36-9", "vim=2:9.0"},
                                    .source_date_epoch = epoch,
                                    .signer = signer,
                                    .consume_tree = consume},
                                   progress);
    REQUIRE(out.has_value());
    REQUIRE(out->archived.get().has_value());
    return std::move(*out);
  }
};

void write(const fs::path& path, std::string_view text, unsigned mode = 0644) {
  fs::create_directories(path.parent_path());
  REQUIRE(write_file_atomic(path, text, mode).has_value());
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

// Everything a checkout must reproduce, per path: type and mode, owner, size, link target or
// content, and every xattr.
std::map<std::string, std::string> describe_tree(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    struct stat st {};
    REQUIRE(::lstat(entry.path().c_str(), &st) == 0);
    std::string line = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" +
                       std::to_string(st.st_gid);
    if (S_ISLNK(st.st_mode)) line += " -> " + fs::read_symlink(entry.path()).string();
    if (S_ISREG(st.st_mode)) line += " = " + read_file(entry.path()).value();
    char names[1024];
    ssize_t size = ::llistxattr(entry.path().c_str(), names, sizeof names);
    REQUIRE(size >= 0);
    for (ssize_t at = 0; at < size; at += static_cast<ssize_t>(std::strlen(names + at)) + 1) {
      char value[256];
      ssize_t length = ::lgetxattr(entry.path().c_str(), names + at, value, sizeof value);
      REQUIRE(length >= 0);
      line += std::string(" ") + (names + at) + "=" +
              std::string(value, static_cast<std::size_t>(length));
    }
    out[entry.path().lexically_relative(root).string()] = line;
  }
  return out;
}

// A small root-owned tree with what a host image holds: setuid binary, file capabilities,
// private files with odd owners, sticky world-writable dir, dangling and relative symlinks.
fs::path make_odd_tree(const fs::path& tree) {
  write(tree / "usr/bin/sudo", "#!/bin/sh\nsudo\n", 04755);
  write(tree / "usr/bin/wall", "wall", 02755);
  write(tree / "usr/bin/ping", "ping", 0755);
  // VFS_CAP_REVISION_2 granting cap_net_raw (bit 13), permitted + effective.
  const char capability[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0};
  REQUIRE(::setxattr((tree / "usr/bin/ping").c_str(), "security.capability", capability,
                     sizeof capability, 0) == 0);
  REQUIRE(::setxattr((tree / "usr/bin/sudo").c_str(), "user.note", "x", 1, 0) == 0);
  write(tree / "etc/shadow", "root:*:19000::::::\n", 0640);
  REQUIRE(::chown((tree / "etc/shadow").c_str(), 0, 42) == 0);
  write(tree / "var/lib/svc/state", "", 0000);
  REQUIRE(::chown((tree / "var/lib/svc/state").c_str(), 1234, 4321) == 0);
  fs::create_directories(tree / "tmp");
  REQUIRE(::chmod((tree / "tmp").c_str(), 01777) == 0);
  fs::create_directories(tree / "srv/empty");
  fs::create_symlink("../usr/bin/sudo", tree / "etc/sudo-link");
  fs::create_symlink("/nonexistent/target", tree / "etc/dangling");
  fs::create_directories(tree / "dev");
  REQUIRE(::mknod((tree / "dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  return tree;
}

}  // namespace

TEST_CASE("a checkout of a commit is the committed tree: modes, owners, xattrs, links, content") {
  Fixture f;
  auto tree = make_odd_tree(f.path("tree"));
  auto out = f.commit(tree, "1");
  CHECK(out.dev_entries_left_out == 1);
  CHECK_THAT(f.progress.details.back(), Catch::Contains("1 entries in /dev"));
  for (const auto& repo : {f.staging, f.repo}) {  // the bare staging copy and the archive
    auto checkout = f.path("checkout-" + repo.filename().string());
    REQUIRE(checkout_commit(repo, out.checksum, checkout).has_value());
    auto expected = describe_tree(tree);
    expected.erase("dev/null");  // devtmpfs provides /dev
    CHECK(describe_tree(checkout) == expected);
    struct stat st {};
    REQUIRE(::stat((checkout / "usr/bin/sudo").c_str(), &st) == 0);
    CHECK(st.st_nlink == 1);  // copied, never hard-linked into the repo
  }
  CHECK(describe_tree(f.path("checkout-repo"))["usr/bin/ping"] ==
        describe_tree(tree)["usr/bin/ping"]);  // the capability survived
}

TEST_CASE("same tree, metadata, time and parent give the same commit, another time does not") {
  Fixture a, b;
  for (auto* f : {&a, &b}) write(f->path("t") / "etc/x", "x");
  auto one = a.commit(a.path("t"), "1");
  auto two = b.commit(b.path("t"), "1");
  CHECK(one.checksum == two.checksum);
  CHECK(one.tree_checksum == two.tree_checksum);
  Fixture c;
  write(c.path("t") / "etc/x", "x");
  auto later = c.commit(c.path("t"), "1", nullptr, 1700000001);
  CHECK(later.checksum != one.checksum);
  CHECK(later.tree_checksum == one.tree_checksum);  // the tree alone did not change
}

TEST_CASE("the commit names the ref's head as parent, with the build's metadata and time") {
  Fixture f;
  write(f.path("t") / "etc/x", "x");
  auto first = f.commit(f.path("t"), "1.0");
  // The ref moves only when published: until then a rebuild has the same parent.
  auto again = f.commit(f.path("t"), "1.0");
  CHECK(again.checksum == first.checksum);
  REQUIRE(publish_ref(f.repo, kRef, first.checksum).has_value());
  auto second = f.commit(f.path("t"), "1.1");

  auto repo = ostree::open_repo(f.repo, false).value();
  CHECK(ostree::resolve(repo.get(), kRef).value() == first.checksum);
  auto info = ostree::load_commit(repo.get(), second.checksum).value();
  CHECK(info.parent == first.checksum);
  CHECK(info.timestamp == 1700000000);
  CHECK(info.subject == "cairn cairn/t/x86_64 1.1");
  CHECK(ostree::metadata_string(info.metadata.get(), kVersionKey) == "1.1");
  CHECK(ostree::metadata_string(info.metadata.get(), kRecipeDigestKey) == "digest");
  CHECK(ostree::metadata_strings(info.metadata.get(), kPackagesKey) ==
        std::vector<std::string>{"libc6=2.36-9", "vim=2:9.0"});
  CHECK_FALSE(ostree::load_commit(repo.get(), first.checksum).value().parent.has_value());
}

TEST_CASE("the signature is over the ASCII hex checksum and stored as bytes in both repos") {
  Fixture f;
  write(f.path("t") / "etc/x", "x");
  RecordingSigner signer;
  auto out = f.commit(f.path("t"), "1", &signer);
  CHECK(out.is_signed);
  REQUIRE(signer.signed_data == std::vector<std::string>{out.checksum});
  CHECK(out.checksum.find_first_not_of("0123456789abcdef") == std::string::npos);
  for (const auto& path : {f.staging, f.repo}) {
    auto repo = ostree::open_repo(path, false).value();
    auto detached = ostree::read_detached_metadata(repo.get(), out.checksum).value();
    if (path == f.staging) {  // the signature lives in the archive repo only
      CHECK_FALSE(ostree::metadata_bytes(detached.get(), kCommitSignatureKey).has_value());
      continue;
    }
    CHECK(ostree::metadata_bytes(detached.get(), kCommitSignatureKey) ==
          std::string("\0DER\xff", 5) + out.checksum);
  }
  auto unsigned_out = f.commit(f.path("t"), "2");
  CHECK_FALSE(unsigned_out.is_signed);
}

TEST_CASE("a failing signer fails the commit stage with context") {
  Fixture f;
  write(f.path("t") / "etc/x", "x");
  class BrokenSigner final : public Signer {
   public:
    Expected<std::string> sign(std::string_view) override {
      return fail(Errc::crypto, "key unreadable");
    }
  } broken;
  auto out = commit_tree_to_repo({.repo = f.repo,
                                  .staging_repo = f.staging,
                                  .tree = f.path("t"),
                                  .ref = kRef,
                                  .version = "1",
                                  .signer = &broken},
                                 f.progress);
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code() == Errc::crypto);
  CHECK_THAT(out.error().describe(), Catch::Contains("signing commit"));
}

TEST_CASE("a consumed tree commits to the same checksum and is gone afterwards") {
  Fixture a, b;
  auto kept = a.commit(make_odd_tree(a.path("t")), "1");
  auto consumed = b.commit(make_odd_tree(b.path("t")), "1", nullptr, 1700000000, true);
  CHECK(consumed.checksum == kept.checksum);
  CHECK_FALSE(fs::exists(b.path("t")));
  REQUIRE(checkout_commit(b.staging, consumed.checksum, b.path("checkout")).has_value());
  CHECK(read_file(b.path("checkout/usr/bin/sudo")).value() == "#!/bin/sh\nsudo\n");
}
