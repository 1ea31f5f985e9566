#include "builder/history.hpp"

#include <glib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "builder/ostree_repo.hpp"
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

TEST_CASE("versions form a history, diff names files and packages, signatures are checked") {
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
  CHECK((*versions)[0].checksum == second.checksum);
  CHECK_FALSE((*versions)[0].is_signed);
  CHECK((*versions)[1].checksum == first.checksum);
  CHECK((*versions)[1].is_signed);
  CHECK((*versions)[1].recipe_digest == "d-1.0");
  CHECK((*versions)[1].timestamp == 1700000000);
  CHECK((*versions)[1].to_json() == nlohmann::json{{"commit", first.checksum},
                                                   {"version", "1.0"},
                                                   {"timestamp", 1700000000},
                                                   {"recipe_digest", "d-1.0"},
                                                   {"signed", true}});
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
  auto json = diff->to_json();
  CHECK(json["packages"]["changed"][0] == "vim 9.0 → 9.1");
  CHECK(json["files"]["added"][0] == "/etc/added");
  CHECK(json["to"]["commit"] == second.checksum);

  FakeVerifier verifier;
  auto signed_report = inspect_commit(f.repo, first.checksum, &verifier);
  REQUIRE(signed_report.has_value());
  CHECK(signed_report->signature_state == "valid");
  CHECK(signed_report->version == "1.0");
  CHECK(signed_report->packages.size() == 3);
  CHECK(signed_report->signature_detail == "fake");
  CHECK_FALSE(signed_report->signature_error.has_value());
  CHECK(signed_report->to_json()["signature"]["state"] == "valid");
  CHECK(signed_report->to_json()["packages"][0] == "libc6=2.36");
  CHECK(inspect_commit(f.repo, "cairn/t/x86_64", &verifier)->signature_state == "absent");
  CHECK(inspect_commit(f.repo, first.checksum, nullptr)->signature_state == "unchecked");
}

TEST_CASE("a tampered signature and an untrusted signer are reported invalid, distinctly") {
  Fixture f;
  auto v1 = f.tree("v1");
  write(v1 / "etc/a", "a");
  auto out = f.commit(v1, "1", {}, &f.signer);
  FakeVerifier verifier;
  REQUIRE(inspect_commit(f.repo, out.checksum, &verifier)->signature_state == "valid");

  SECTION("a byte of the stored signature changed") {
    auto repo = ostree::open_repo(f.repo, false).value();
    auto detached = ostree::read_detached_metadata(repo.get(), out.checksum).value();
    auto signature = ostree::metadata_bytes(detached.get(), kCommitSignatureKey).value();
    signature.back() ^= 1;
    GVariantBuilder builder;
    g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(
        &builder, "{sv}", kCommitSignatureKey,
        g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, signature.data(), signature.size(), 1));
    REQUIRE(ostree::write_detached_metadata(
                repo.get(), out.checksum,
                ostree::VariantPtr(g_variant_ref_sink(g_variant_builder_end(&builder))))
                .has_value());
    auto report = inspect_commit(f.repo, out.checksum, &verifier);
    REQUIRE(report.has_value());
    CHECK(report->signature_state == "invalid");
    CHECK(report->signature_error == Errc::integrity);
    CHECK_THAT(report->signature_detail, Catch::Contains("bad tag"));
    CHECK(report->to_json()["signature"]["error"] == errc_name(Errc::integrity));
  }
  SECTION("a verifier that does not trust the signer") {
    class DistrustingVerifier final : public SignatureVerifier {
     public:
      Expected<SignerIdentity> verify(std::string_view, std::string_view) override {
        return fail(Errc::crypto, "signer does not chain to a trust anchor");
      }
    } distrusting;
    auto report = inspect_commit(f.repo, out.checksum, &distrusting);
    REQUIRE(report.has_value());
    CHECK(report->signature_state == "invalid");
    CHECK(report->signature_error == Errc::crypto);
  }
}

TEST_CASE("history of a repo without the ref is an error naming it") {
  Fixture f;
  write(f.tree("t") / "etc/x", "x");
  f.commit(f.tree("t"), "1", {});
  auto none = list_versions(f.repo, "cairn/none/x86_64");
  REQUIRE_FALSE(none.has_value());
  CHECK_THAT(none.error().describe(), Catch::Contains("cairn/none/x86_64"));
}
