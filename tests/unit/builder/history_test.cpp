#include "builder/history.hpp"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "builder/stages/commit.hpp"
#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;

namespace {

// A signer whose "signature" is a keyed tag, and the verifier that checks it.
class FakeSigner final : public Signer {
 public:
  Expected<std::string> sign(std::string_view data) override { return "sig:" + std::string(data); }
};
class FakeVerifier final : public SignatureVerifier {
 public:
  Expected<SignerIdentity> verify(std::string_view data, std::string_view signature) override {
    if (signature != "sig:" + std::string(data)) return fail(Errc::integrity, "bad tag");
    return SignerIdentity{.subject = "fake"};
  }
};

struct Fixture {
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-history-").value();
  fs::path repo = dir.path() / "repo";
  fs::path staging = dir.path() / "staging";
  NullProgress progress;
  FakeSigner signer;

  fs::path tree(const std::string& name) { return dir.path() / name; }

  CommitOutput commit(const fs::path& tree, const std::string& version,
                      std::vector<std::string> packages, Signer* with = nullptr) {
    auto out = commit_tree_to_repo({.repo = repo,
                                    .staging_repo = staging,
                                    .tree = tree,
                                    .ref = "cairn/t/x86_64",
                                    .version = version,
                                    .recipe_digest = "d-" + version,
                                    .packages = std::move(packages),
                                    .source_date_epoch = 1700000000,
                                    .signer = with},
                                   progress);
    REQUIRE(out.has_value());
    REQUIRE(out->archived.get().has_value());
    REQUIRE(publish_ref(repo, "cairn/t/x86_64", out->checksum).has_value());
    return *out;
  }
};

void write(const fs::path& path, std::string_view text, unsigned mode = 0644) {
  fs::create_directories(path.parent_path());
  REQUIRE(write_file_atomic(path, text, mode).has_value());
  ::chmod(path.c_str(), mode);
}

}  // namespace

TEST_CASE("a commit keeps modes, owners, symlinks and xattrs through a checkout") {
  Fixture f;
  auto tree = f.tree("v1");
  write(tree / "usr/bin/tool", "#!/bin/sh\n", 04755);
  write(tree / "etc/secret", "s", 0600);
  REQUIRE(::chown((tree / "etc/secret").c_str(), 0, 42) == 0);
  fs::create_symlink("../usr/bin/tool", tree / "etc/link");
  REQUIRE(::setxattr((tree / "usr/bin/tool").c_str(), "user.cairn", "v", 1, 0) == 0);
  auto out = f.commit(tree, "1", {"a=1"});
  auto checkout = f.tree("checkout");
  REQUIRE(checkout_commit(f.staging, out.checksum, checkout).has_value());
  struct stat st {};
  REQUIRE(::stat((checkout / "usr/bin/tool").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 04755);
  CHECK(st.st_nlink == 1);  // copied, never hard-linked into the repo
  REQUIRE(::stat((checkout / "etc/secret").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_gid == 42);
  CHECK(fs::read_symlink(checkout / "etc/link") == "../usr/bin/tool");
  char value[8] = {};
  CHECK(::getxattr((checkout / "usr/bin/tool").c_str(), "user.cairn", value, sizeof value) == 1);
  CHECK(read_file(checkout / "usr/bin/tool").value() == "#!/bin/sh\n");
}

TEST_CASE("versions form a history; diff names files and packages; signatures are checked") {
  Fixture f;
  auto v1 = f.tree("v1");
  write(v1 / "etc/keep", "same");
  write(v1 / "etc/changed", "old");
  write(v1 / "etc/removed", "bye");
  auto first = f.commit(v1, "1.0", {"libc6=2.36", "old=1", "vim=9.0"}, &f.signer);
  auto v2 = f.tree("v2");
  write(v2 / "etc/keep", "same");
  write(v2 / "etc/changed", "new");
  write(v2 / "etc/added", "hi");
  auto second = f.commit(v2, "1.1", {"libc6=2.36", "vim=9.1", "new=2"});

  auto versions = list_versions(f.repo, "cairn/t/x86_64");
  REQUIRE(versions.has_value());
  REQUIRE(versions->size() == 2);
  CHECK((*versions)[0].version == "1.1");
  CHECK((*versions)[1].checksum == first.checksum);
  CHECK(find_commit_by_version(f.repo, "cairn/t/x86_64", "1.0").value() == first.checksum);
  CHECK_FALSE(find_commit_by_version(f.repo, "cairn/t/x86_64", "9").has_value());

  auto diff = diff_versions(f.repo, "cairn/t/x86_64", "1.0", "1.1");
  REQUIRE(diff.has_value());
  CHECK(diff->added == std::vector<std::string>{"/etc/added"});
  CHECK(diff->removed == std::vector<std::string>{"/etc/removed"});
  CHECK(diff->modified == std::vector<std::string>{"/etc/changed"});
  CHECK(diff->packages_added == std::vector<std::string>{"new 2"});
  CHECK(diff->packages_removed == std::vector<std::string>{"old 1"});
  CHECK(diff->packages_changed == std::vector<std::string>{"vim 9.0 → 9.1"});

  FakeVerifier verifier;
  auto signed_report = inspect_commit(f.repo, first.checksum, &verifier);
  REQUIRE(signed_report.has_value());
  CHECK(signed_report->signature_state == "valid");
  CHECK(signed_report->version == "1.0");
  CHECK(signed_report->packages.size() == 3);
  CHECK(inspect_commit(f.repo, "cairn/t/x86_64", &verifier)->signature_state == "absent");
  CHECK(inspect_commit(f.repo, first.checksum, nullptr)->signature_state == "unchecked");
}

TEST_CASE("a tampered signature is reported invalid") {
  Fixture f;
  auto v1 = f.tree("v1");
  write(v1 / "etc/a", "a");
  class LyingSigner final : public Signer {
   public:
    Expected<std::string> sign(std::string_view) override { return std::string("sig:other"); }
  } liar;
  auto out = f.commit(v1, "1", {}, &liar);
  FakeVerifier verifier;
  auto report = inspect_commit(f.repo, out.checksum, &verifier);
  REQUIRE(report.has_value());
  CHECK(report->signature_state == "invalid");
  CHECK_THAT(report->signature_detail, Catch::Contains("bad tag"));
}

TEST_CASE("the same tree, metadata, time and parent give the same commit in another repo") {
  Fixture a, b;
  for (auto* f : {&a, &b}) write(f->tree("t") / "etc/x", "x");
  auto one = a.commit(a.tree("t"), "1", {"p=1"});
  auto two = b.commit(b.tree("t"), "1", {"p=1"});
  CHECK(one.checksum == two.checksum);
  CHECK(one.tree_checksum == two.tree_checksum);
  CHECK_FALSE(one.tree_checksum.empty());
}

TEST_CASE("history of a repo without the ref is an error naming it") {
  Fixture f;
  write(f.tree("t") / "etc/x", "x");
  f.commit(f.tree("t"), "1", {});
  auto none = list_versions(f.repo, "cairn/none/x86_64");
  REQUIRE_FALSE(none.has_value());
  CHECK_THAT(none.error().describe(), Catch::Contains("cairn/none/x86_64"));
}
