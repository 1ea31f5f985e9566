#include "builder/ostree_repo.hpp"

#include <ostree.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/fs.hpp"

using namespace cairn;
namespace fs = std::filesystem;

namespace {

struct Repo {
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-ostree-").value();
  ostree::RepoPtr repo = ostree::open_repo(dir.path() / "repo", true).value();

  fs::path path(const std::string& name) const { return dir.path() / name; }

  Expected<std::string> commit(const fs::path& tree, ostree::CommitStats* stats = nullptr,
                               std::uint64_t timestamp = 1700000000) {
    return ostree::commit_tree(repo.get(), {.tree = tree, .subject = "s", .timestamp = timestamp},
                               stats);
  }
};

void write(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  REQUIRE(write_file_atomic(path, text).has_value());
}

ostree::VariantPtr string_metadata(const char* key, const char* value) {
  GVariantBuilder builder;
  g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&builder, "{sv}", key, g_variant_new_string(value));
  return ostree::VariantPtr(g_variant_ref_sink(g_variant_builder_end(&builder)));
}

}  // namespace

TEST_CASE("open_repo creates an archive repo once and reopens it, and a missing one is not found") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-ostree-").value();
  auto missing = ostree::open_repo(dir.path() / "repo", false);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code() == Errc::not_found);
  CHECK_THAT(missing.error().describe(), Catch::Contains((dir.path() / "repo").string()));

  REQUIRE(ostree::open_repo(dir.path() / "repo", true).has_value());
  auto config = read_file(dir.path() / "repo/config").value();
  CHECK_THAT(config, Catch::Contains("mode=archive-z2"));
  CHECK_THAT(config, Catch::Contains("zlib-level=1"));
  auto reopened = ostree::open_repo(dir.path() / "repo", false);
  REQUIRE(reopened.has_value());
  CHECK(ostree_repo_get_mode(reopened->get()) == OSTREE_REPO_MODE_ARCHIVE);
}

TEST_CASE("a commit records time, subject, parent and metadata, and refs resolve") {
  Repo r;
  write(r.path("t/etc/a"), "a");
  auto first = r.commit(r.path("t"));
  REQUIRE(first.has_value());
  CHECK(first->size() == 64);
  auto second = ostree::commit_tree(r.repo.get(),
                                    {.tree = r.path("t"),
                                     .parent = *first,
                                     .subject = "second",
                                     .metadata = string_metadata("version", "2.0"),
                                     .timestamp = 1234567890},
                                    nullptr);
  REQUIRE(second.has_value());
  auto info = ostree::load_commit(r.repo.get(), *second).value();
  CHECK(info.timestamp == 1234567890);
  CHECK(info.subject == "second");
  CHECK(info.parent == first);
  CHECK(ostree::metadata_string(info.metadata.get(), "version") == "2.0");
  CHECK_FALSE(ostree::metadata_string(info.metadata.get(), "absent").has_value());

  CHECK(ostree::resolve(r.repo.get(), "cairn/t/x86_64").value() == std::nullopt);
  REQUIRE(ostree::set_ref(r.repo.get(), "cairn/t/x86_64", *second).has_value());
  CHECK(ostree::resolve(r.repo.get(), "cairn/t/x86_64").value() == second);
  CHECK_FALSE(ostree::load_commit(r.repo.get(), std::string(64, '0')).has_value());
}

TEST_CASE("detached metadata round-trips bytes, NULs included, and none reads as null") {
  Repo r;
  write(r.path("t/a"), "a");
  auto checksum = r.commit(r.path("t")).value();
  CHECK(ostree::read_detached_metadata(r.repo.get(), checksum).value() == nullptr);
  const std::string bytes("\0\x01\xff signature", 13);
  GVariantBuilder builder;
  g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(
      &builder, "{sv}", "cairn.signature",
      g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, bytes.data(), bytes.size(), 1));
  REQUIRE(ostree::write_detached_metadata(
              r.repo.get(), checksum,
              ostree::VariantPtr(g_variant_ref_sink(g_variant_builder_end(&builder))))
              .has_value());
  auto detached = ostree::read_detached_metadata(r.repo.get(), checksum).value();
  CHECK(ostree::metadata_bytes(detached.get(), "cairn.signature") == bytes);
  CHECK_FALSE(ostree::metadata_bytes(detached.get(), "other").has_value());
}

TEST_CASE("/dev is committed empty, keeping its own mode, owner and xattrs") {
  Repo r;
  write(r.path("t/etc/a"), "a");
  fs::create_directories(r.path("plain/etc"));
  write(r.path("plain/etc/a"), "a");
  for (const char* tree : {"t", "plain"}) {
    fs::path dev = r.path(tree) / "dev";
    fs::create_directories(dev);
    REQUIRE(::chmod(dev.c_str(), 0751) == 0);
    REQUIRE(::chown(dev.c_str(), 0, 5) == 0);
    REQUIRE(::setxattr(dev.c_str(), "user.cairn", "dev", 3, 0) == 0);
  }
  fs::path dev = r.path("t/dev");
  REQUIRE(::mknod((dev / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  REQUIRE(::mkfifo((dev / "initctl").c_str(), 0600) == 0);
  fs::create_directories(dev / "pts");
  fs::create_symlink("/proc/self/fd", dev / "fd");

  ostree::CommitStats stats;
  auto with_nodes = r.commit(r.path("t"), &stats);
  REQUIRE(with_nodes.has_value());
  CHECK(stats.dev_entries_left_out == 4);
  ostree::CommitStats plain_stats;
  REQUIRE(r.commit(r.path("plain"), &plain_stats).has_value());
  CHECK(plain_stats.tree_checksum == stats.tree_checksum);

  REQUIRE(ostree::checkout(r.repo.get(), *with_nodes, r.path("out")).has_value());
  CHECK(fs::is_empty(r.path("out/dev")));
  struct stat st {};
  REQUIRE(::lstat(r.path("out/dev").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0751);
  CHECK(st.st_gid == 5);
  char value[8] = {};
  CHECK(::getxattr(r.path("out/dev").c_str(), "user.cairn", value, sizeof value) == 3);
  CHECK(read_file(r.path("out/etc/a")).value() == "a");
}

TEST_CASE("a FIFO or socket outside /dev is refused, naming it") {
  Repo r;
  write(r.path("t/etc/a"), "a");
  std::string expected;
  SECTION("FIFO") {
    fs::create_directories(r.path("t/run"));
    REQUIRE(::mkfifo(r.path("t/run/initctl").c_str(), 0600) == 0);
    expected = "/run/initctl";
  }
  SECTION("socket") {
    fs::create_directories(r.path("t/tmp"));
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_un address{.sun_family = AF_UNIX, .sun_path = {}};
    auto socket_path = r.path("t/tmp/agent.sock").string();
    REQUIRE(socket_path.size() < sizeof address.sun_path);
    socket_path.copy(address.sun_path, socket_path.size());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    ::close(fd);
    expected = "/tmp/agent.sock";
  }
  auto result = r.commit(r.path("t"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::invalid_input);
  CHECK_THAT(result.error().describe(), Catch::Contains(expected));
}

TEST_CASE("consuming commits the same tree and deletes the input") {
  Repo r;
  auto bare = ostree::open_repo(r.path("bare"), true, ostree::RepoMode::bare).value();
  for (const char* tree : {"t", "copy"}) {
    write(r.path(tree) / "usr/lib/x", "library");
    write(r.path(tree) / "etc/a", "a");
    fs::create_directories(r.path(tree) / "dev");
    REQUIRE(::mknod((r.path(tree) / "dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  }
  ostree::CommitStats kept, consumed;
  REQUIRE(ostree::commit_tree(bare.get(), {.tree = r.path("t"), .timestamp = 1}, &kept));
  auto checksum = ostree::commit_tree(
      bare.get(), {.tree = r.path("copy"), .timestamp = 1, .consume = true}, &consumed);
  REQUIRE(checksum.has_value());
  CHECK(consumed.tree_checksum == kept.tree_checksum);
  CHECK_FALSE(fs::exists(r.path("copy")));
  REQUIRE(ostree::checkout(bare.get(), *checksum, r.path("out")).has_value());
  CHECK(read_file(r.path("out/usr/lib/x")).value() == "library");
}

TEST_CASE("progress is reported every kProgressInterval entries") {
  Repo r;
  for (std::uint64_t i = 0; i < ostree::kProgressInterval + 10; ++i) {
    write(r.path("t/files") / std::to_string(i), std::to_string(i));
  }
  std::vector<std::uint64_t> reports;
  ostree::CommitStats stats;
  auto out = ostree::commit_tree(
      r.repo.get(),
      {.tree = r.path("t"), .on_progress = [&](std::uint64_t n) { reports.push_back(n); }}, &stats);
  REQUIRE(out.has_value());
  CHECK(reports == std::vector<std::uint64_t>{ostree::kProgressInterval});
  CHECK(stats.files_seen == ostree::kProgressInterval + 10);
  CHECK(stats.files_written == ostree::kProgressInterval + 10);
}

TEST_CASE("diff_commits names added, removed and modified files") {
  Repo r;
  write(r.path("a/etc/keep"), "k");
  write(r.path("a/etc/changed"), "1");
  write(r.path("a/etc/gone"), "g");
  write(r.path("b/etc/keep"), "k");
  write(r.path("b/etc/changed"), "2");
  write(r.path("b/usr/new"), "n");
  auto a = r.commit(r.path("a")).value();
  auto b = r.commit(r.path("b")).value();
  auto diff = ostree::diff_commits(r.repo.get(), a, b);
  REQUIRE(diff.has_value());
  CHECK(diff->added == std::vector<std::string>{"/usr", "/usr/new"});
  CHECK(diff->removed == std::vector<std::string>{"/etc/gone"});
  CHECK(diff->modified == std::vector<std::string>{"/etc/changed"});
  CHECK_FALSE(ostree::diff_commits(r.repo.get(), a, std::string(64, 'f')).has_value());
}

TEST_CASE("pull_commit copies a bare commit into an archive repo under the same checksum") {
  Repo r;
  auto bare = ostree::open_repo(r.path("bare"), true, ostree::RepoMode::bare).value();
  write(r.path("t/etc/a"), "a");
  auto checksum = ostree::commit_tree(bare.get(), {.tree = r.path("t"), .timestamp = 7}, nullptr);
  REQUIRE(checksum.has_value());
  REQUIRE(ostree::pull_commit(r.repo.get(), r.path("bare"), *checksum).has_value());
  CHECK(ostree::load_commit(r.repo.get(), *checksum).value().timestamp == 7);
  REQUIRE(ostree::checkout(r.repo.get(), *checksum, r.path("out")).has_value());
  CHECK(read_file(r.path("out/etc/a")).value() == "a");
}

TEST_CASE("a linked checkout shares the bare repo's objects, an archive repo's is copied") {
  Repo r;
  auto bare = ostree::open_repo(r.path("bare"), true, ostree::RepoMode::bare).value();
  write(r.path("t/etc/a"), "a");
  auto checksum = ostree::commit_tree(bare.get(), {.tree = r.path("t")}, nullptr).value();
  REQUIRE(ostree::pull_commit(r.repo.get(), r.path("bare"), checksum).has_value());
  REQUIRE(ostree::checkout(bare.get(), checksum, r.path("linked"), true).has_value());
  REQUIRE(ostree::checkout(r.repo.get(), checksum, r.path("copied"), true).has_value());
  struct stat st {};
  REQUIRE(::stat(r.path("linked/etc/a").c_str(), &st) == 0);
  CHECK(st.st_nlink == 2);
  REQUIRE(::stat(r.path("copied/etc/a").c_str(), &st) == 0);
  CHECK(st.st_nlink == 1);
  CHECK(read_file(r.path("copied/etc/a")).value() == "a");
}
