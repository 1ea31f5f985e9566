#include "builder/ostree_repo.hpp"

#include <fcntl.h>
#include <ostree.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "common/fs.hpp"

namespace cairn::ostree {

namespace fs = std::filesystem;

void GObjectDeleter::operator()(void* object) const {
  if (object) g_object_unref(object);
}
void GVariantDeleter::operator()(GVariant* variant) const {
  if (variant) g_variant_unref(variant);
}

namespace {

// GError → cairn::Error (and frees it).
std::unexpected<Error> fail_gerror(GError* error, std::string what, Errc code = Errc::io) {
  std::string message = what + ": " + (error ? error->message : "unknown error");
  if (error) g_error_free(error);
  return fail(code, std::move(message));
}

template <class T>
using GPtr = std::unique_ptr<T, GObjectDeleter>;

struct PtrArrayDeleter {
  void operator()(GPtrArray* array) const { g_ptr_array_unref(array); }
};
using PtrArrayPtr = std::unique_ptr<GPtrArray, PtrArrayDeleter>;

std::string image_path(GFile* file) {
  char* path = g_file_get_path(file);
  std::string out = path ? path : "";
  g_free(path);
  return out;
}

const char* special_file_kind(fs::file_type type) {
  switch (type) {
    case fs::file_type::character:
      return "a character device";
    case fs::file_type::block:
      return "a block device";
    case fs::file_type::fifo:
      return "a FIFO";
    case fs::file_type::socket:
      return "a socket";
    default:
      return "of an unsupported type";
  }
}

// OSTree's directory walk fails on the first device node, socket or FIFO, naming only its base
// name, before any filter sees it. So look first, outside /dev (see commit_empty_dev); returns
// the number of entries in /dev.
Expected<std::uint64_t> scan_tree(const fs::path& tree) {
  std::error_code ec;
  std::uint64_t in_dev = 0;
  const fs::path dev = tree / "dev";
  for (auto it = fs::recursive_directory_iterator(tree, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().parent_path() == dev) {
      ++in_dev;
      it.disable_recursion_pending();
      continue;
    }
    auto type = it->symlink_status(ec).type();
    if (ec) break;
    if (type == fs::file_type::regular || type == fs::file_type::directory ||
        type == fs::file_type::symlink) {
      continue;
    }
    return fail(Errc::invalid_input,
                "cannot commit /" + it->path().lexically_relative(tree).string() + " in " +
                    tree.string() + ": it is " + special_file_kind(type) +
                    "; OSTree stores only directories, regular files and symlinks");
  }
  if (ec) return fail(Errc::io, "scanning " + tree.string() + ": " + ec.message());
  return in_dev;
}

// State shared with the commit filter, which OSTree calls once per tree entry.
struct CommitWalk {
  const std::function<void(std::uint64_t)>* on_progress = nullptr;
  bool skip_dev = false;    // committed on its own, see commit_empty_dev
  std::uint64_t files = 0;  // regular files and symlinks
};

OstreeRepoCommitFilterResult filter_entry(OstreeRepo*, const char* path, GFileInfo* info,
                                          gpointer data) {
  auto* walk = static_cast<CommitWalk*>(data);
  // Directories pass here twice (as an entry, then as the directory walked), so count the rest.
  if (g_file_info_get_file_type(info) != G_FILE_TYPE_DIRECTORY &&
      ++walk->files % kProgressInterval == 0 && *walk->on_progress) {
    (*walk->on_progress)(walk->files);
  }
  if (walk->skip_dev && std::string_view(path) == "/dev") return OSTREE_REPO_COMMIT_FILTER_SKIP;
  return OSTREE_REPO_COMMIT_FILTER_ALLOW;
}

using ModifierPtr = std::unique_ptr<OstreeRepoCommitModifier, void (*)(OstreeRepoCommitModifier*)>;

ModifierPtr make_modifier(bool consume, CommitWalk* walk) {
  return ModifierPtr(
      ostree_repo_commit_modifier_new(consume ? OSTREE_REPO_COMMIT_MODIFIER_FLAGS_CONSUME
                                              : OSTREE_REPO_COMMIT_MODIFIER_FLAGS_NONE,
                                      filter_entry, walk, nullptr),
      ostree_repo_commit_modifier_unref);
}

Status copy_xattrs(const fs::path& from, const fs::path& to) {
  std::string names(4096, '\0');
  ssize_t size = ::llistxattr(from.c_str(), names.data(), names.size());
  if (size < 0) return fail_errno("listing xattrs of " + from.string(), errno);
  names.resize(static_cast<std::size_t>(size));
  for (std::size_t at = 0; at < names.size(); at = names.find('\0', at) + 1) {
    const char* name = names.c_str() + at;
    std::string value(65536, '\0');
    ssize_t length = ::lgetxattr(from.c_str(), name, value.data(), value.size());
    if (length < 0) return fail_errno("reading xattr " + std::string(name), errno);
    if (::lsetxattr(to.c_str(), name, value.data(), static_cast<std::size_t>(length), 0) != 0) {
      return fail_errno("copying xattr " + std::string(name), errno);
    }
  }
  return {};
}

// devtmpfs is mounted over /dev at boot, so nothing under it is ever seen; and a Debian tree's
// /dev holds device nodes, which OSTree cannot store. /dev is committed as an empty directory
// with its own owner, mode and xattrs — made from an empty stand-in so OSTree writes the
// directory metadata exactly as for any other directory.
Status commit_empty_dev(OstreeRepo* repo, const fs::path& tree, OstreeMutableTree* root,
                        CommitWalk* walk) {
  struct stat st {};
  if (::lstat((tree / "dev").c_str(), &st) != 0) return fail_errno("stat of /dev", errno);
  auto temp = CAIRN_TRY(TempDir::create(fs::temp_directory_path(), "cairn-dev-"));
  fs::path stand_in = temp.path() / "dev";
  if (::mkdir(stand_in.c_str(), 0700) != 0 || ::lchown(stand_in.c_str(), st.st_uid, st.st_gid) ||
      ::chmod(stand_in.c_str(), st.st_mode & 07777) != 0) {
    return fail_errno("making an empty stand-in for " + (tree / "dev").string(), errno);
  }
  CAIRN_CHECK(copy_xattrs(tree / "dev", stand_in));
  OstreeMutableTree* dev_raw = nullptr;
  GError* error = nullptr;
  if (!ostree_mutable_tree_ensure_dir(root, "dev", &dev_raw, &error)) {
    return fail_gerror(error, "adding /dev to the OSTree tree");
  }
  GPtr<OstreeMutableTree> dev(dev_raw);
  auto modifier = make_modifier(false, walk);
  if (!ostree_repo_write_dfd_to_mtree(repo, AT_FDCWD, stand_in.c_str(), dev.get(), modifier.get(),
                                      nullptr, &error)) {
    return fail_gerror(error, "committing /dev of " + tree.string());
  }
  return {};
}

}  // namespace

Expected<RepoPtr> open_repo(const fs::path& path, bool create, RepoMode mode) {
  GPtr<GFile> file(g_file_new_for_path(path.c_str()));
  RepoPtr repo(ostree_repo_new(file.get()));
  GError* error = nullptr;
  std::error_code ec;
  if (!fs::exists(path / "config", ec)) {
    if (!create) return fail(Errc::not_found, "no OSTree repository at " + path.string());
    fs::create_directories(path, ec);
    auto ostree_mode = mode == RepoMode::bare ? OSTREE_REPO_MODE_BARE : OSTREE_REPO_MODE_ARCHIVE;
    if (!ostree_repo_create(repo.get(), ostree_mode, nullptr, &error)) {
      return fail_gerror(error, "creating OSTree repository " + path.string());
    }
    // zlib level 1 instead of 6: half the commit time of a kvm-host tree for 7 % more space.
    GKeyFile* config = ostree_repo_copy_config(repo.get());
    if (mode == RepoMode::archive) g_key_file_set_integer(config, "archive", "zlib-level", 1);
    bool written = ostree_repo_write_config(repo.get(), config, &error);
    g_key_file_unref(config);
    if (!written) return fail_gerror(error, "configuring OSTree repository " + path.string());
    return open_repo(path, false, mode);
  }
  if (!ostree_repo_open(repo.get(), nullptr, &error)) {
    return fail_gerror(error, "opening OSTree repository " + path.string());
  }
  return repo;
}

Status pull_commit(OstreeRepo* repo, const fs::path& source, const std::string& checksum) {
  GVariantBuilder builder;
  g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
  const char* refs[] = {checksum.c_str(), nullptr};
  g_variant_builder_add(&builder, "{s@v}", "refs",
                        g_variant_new_variant(g_variant_new_strv(refs, -1)));
  g_variant_builder_add(&builder, "{s@v}", "depth", g_variant_new_variant(g_variant_new_int32(0)));
  VariantPtr options(g_variant_ref_sink(g_variant_builder_end(&builder)));
  std::string url = "file://" + fs::absolute(source).string();
  GError* error = nullptr;
  ostree_repo_set_disable_fsync(repo, TRUE);
  if (!ostree_repo_pull_with_options(repo, url.c_str(), options.get(), nullptr, nullptr, &error)) {
    return fail_gerror(error, "copying commit " + checksum + " from " + source.string());
  }
  if (::syncfs(ostree_repo_get_dfd(repo)) != 0)
    return fail_errno("syncfs of the OSTree repo", errno);
  return {};
}

Expected<std::string> commit_tree(OstreeRepo* repo, CommitRequest request, CommitStats* stats) {
  auto dev_entries = CAIRN_TRY(scan_tree(request.tree));
  std::error_code ec;
  GError* error = nullptr;
  // One syncfs() after the transaction instead of an fsync per object: as durable before the
  // ref moves, and about 15 % faster for a full host tree.
  ostree_repo_set_disable_fsync(repo, TRUE);
  if (!ostree_repo_prepare_transaction(repo, nullptr, nullptr, &error)) {
    return fail_gerror(error, "starting an OSTree transaction");
  }
  // Abort the transaction on every early return.
  auto abort = std::unique_ptr<OstreeRepo, void (*)(OstreeRepo*)>(
      repo, [](OstreeRepo* r) { ostree_repo_abort_transaction(r, nullptr, nullptr); });
  CommitWalk walk{.on_progress = &request.on_progress,
                  .skip_dev = fs::is_directory(fs::symlink_status(request.tree / "dev", ec))};
  auto modifier = make_modifier(request.consume, &walk);
  GPtr<OstreeMutableTree> mtree(ostree_mutable_tree_new());
  // /dev first: when consuming, the main walk deletes what it skips.
  if (walk.skip_dev) CAIRN_CHECK(commit_empty_dev(repo, request.tree, mtree.get(), &walk));
  if (!ostree_repo_write_dfd_to_mtree(repo, AT_FDCWD, request.tree.c_str(), mtree.get(),
                                      modifier.get(), nullptr, &error)) {
    return fail_gerror(error, "committing " + request.tree.string());
  }
  GFile* root_raw = nullptr;
  if (!ostree_repo_write_mtree(repo, mtree.get(), &root_raw, nullptr, &error)) {
    return fail_gerror(error, "writing the OSTree tree");
  }
  GPtr<GFile> root(root_raw);
  std::string tree_checksum =
      std::string(ostree_repo_file_tree_get_contents_checksum(OSTREE_REPO_FILE(root.get()))) + "-" +
      ostree_repo_file_tree_get_metadata_checksum(OSTREE_REPO_FILE(root.get()));
  char* checksum_raw = nullptr;
  GVariant* metadata = request.metadata.release();
  bool ok = ostree_repo_write_commit_with_time(
      repo, request.parent ? request.parent->c_str() : nullptr, request.subject.c_str(), nullptr,
      metadata, OSTREE_REPO_FILE(root.get()), request.timestamp, &checksum_raw, nullptr, &error);
  if (metadata) g_variant_unref(metadata);
  if (!ok) return fail_gerror(error, "writing the OSTree commit");
  std::string checksum = checksum_raw;
  g_free(checksum_raw);
  OstreeRepoTransactionStats txn{};
  if (!ostree_repo_commit_transaction(repo, &txn, nullptr, &error)) {
    return fail_gerror(error, "finishing the OSTree transaction");
  }
  (void)abort.release();
  if (::syncfs(ostree_repo_get_dfd(repo)) != 0)
    return fail_errno("syncfs of the OSTree repo", errno);
  if (stats) {
    stats->files_written = txn.content_objects_written;
    stats->content_bytes_written = txn.content_bytes_written;
    stats->tree_checksum = tree_checksum;
    stats->files_seen = walk.files;
    stats->dev_entries_left_out = dev_entries;
  }
  return checksum;
}

Status write_detached_metadata(OstreeRepo* repo, const std::string& checksum, VariantPtr metadata) {
  GError* error = nullptr;
  if (!ostree_repo_write_commit_detached_metadata(repo, checksum.c_str(), metadata.get(), nullptr,
                                                  &error)) {
    return fail_gerror(error, "writing detached metadata of " + checksum);
  }
  return {};
}

Expected<VariantPtr> read_detached_metadata(OstreeRepo* repo, const std::string& checksum) {
  GVariant* metadata = nullptr;
  GError* error = nullptr;
  if (!ostree_repo_read_commit_detached_metadata(repo, checksum.c_str(), &metadata, nullptr,
                                                 &error)) {
    return fail_gerror(error, "reading detached metadata of " + checksum);
  }
  return VariantPtr(metadata);
}

Status set_ref(OstreeRepo* repo, const std::string& ref, const std::string& checksum) {
  GError* error = nullptr;
  if (!ostree_repo_set_ref_immediate(repo, nullptr, ref.c_str(), checksum.c_str(), nullptr,
                                     &error)) {
    return fail_gerror(error, "setting ref " + ref);
  }
  return {};
}

Expected<std::optional<std::string>> resolve(OstreeRepo* repo, const std::string& rev) {
  char* out = nullptr;
  GError* error = nullptr;
  if (!ostree_repo_resolve_rev(repo, rev.c_str(), TRUE, &out, &error)) {
    return fail_gerror(error, "resolving " + rev, Errc::not_found);
  }
  if (!out) return std::optional<std::string>();
  std::string checksum = out;
  g_free(out);
  return std::optional<std::string>(checksum);
}

Expected<CommitInfo> load_commit(OstreeRepo* repo, const std::string& checksum) {
  GVariant* commit_raw = nullptr;
  GError* error = nullptr;
  if (!ostree_repo_load_variant(repo, OSTREE_OBJECT_TYPE_COMMIT, checksum.c_str(), &commit_raw,
                                &error)) {
    return fail_gerror(error, "loading commit " + checksum, Errc::not_found);
  }
  VariantPtr commit(commit_raw);
  CommitInfo info;
  info.checksum = checksum;
  if (char* parent = ostree_commit_get_parent(commit.get())) {
    info.parent = parent;
    g_free(parent);
  }
  info.timestamp = ostree_commit_get_timestamp(commit.get());
  const char* subject = nullptr;
  g_variant_get_child(commit.get(), 3, "&s", &subject);
  info.subject = subject ? subject : "";
  info.metadata.reset(g_variant_get_child_value(commit.get(), 0));
  return info;
}

std::optional<std::string> metadata_string(GVariant* metadata, const char* key) {
  const char* value = nullptr;
  if (metadata && g_variant_lookup(metadata, key, "&s", &value)) return std::string(value);
  return std::nullopt;
}

std::vector<std::string> metadata_strings(GVariant* metadata, const char* key) {
  std::vector<std::string> out;
  if (!metadata) return out;
  VariantPtr value(g_variant_lookup_value(metadata, key, G_VARIANT_TYPE_STRING_ARRAY));
  if (!value) return out;
  gsize count = 0;
  const char** strings = g_variant_get_strv(value.get(), &count);
  for (gsize i = 0; i < count; ++i) out.emplace_back(strings[i]);
  g_free(strings);
  return out;
}

std::optional<std::string> metadata_bytes(GVariant* metadata, const char* key) {
  if (!metadata) return std::nullopt;
  VariantPtr value(g_variant_lookup_value(metadata, key, G_VARIANT_TYPE_BYTESTRING));
  if (!value) return std::nullopt;
  gsize size = 0;
  const void* data = g_variant_get_fixed_array(value.get(), &size, 1);
  return std::string(static_cast<const char*>(data), size);
}

Status checkout(OstreeRepo* repo, const std::string& checksum, const fs::path& destination,
                bool link_to_repo) {
  OstreeRepoCheckoutAtOptions options{};
  options.mode = OSTREE_REPO_CHECKOUT_MODE_NONE;
  options.overwrite_mode = OSTREE_REPO_CHECKOUT_OVERWRITE_NONE;
  options.force_copy = link_to_repo ? FALSE : TRUE;
  GError* error = nullptr;
  if (!ostree_repo_checkout_at(repo, &options, AT_FDCWD, destination.c_str(), checksum.c_str(),
                               nullptr, &error)) {
    return fail_gerror(error, "checking out " + checksum + " to " + destination.string());
  }
  return {};
}

Expected<TreeDiff> diff_commits(OstreeRepo* repo, const std::string& from, const std::string& to) {
  auto read_root = [&](const std::string& rev) -> Expected<GPtr<GFile>> {
    GFile* root = nullptr;
    GError* error = nullptr;
    if (!ostree_repo_read_commit(repo, rev.c_str(), &root, nullptr, nullptr, &error)) {
      return fail_gerror(error, "reading commit " + rev, Errc::not_found);
    }
    return GPtr<GFile>(root);
  };
  auto a = CAIRN_TRY(read_root(from));
  auto b = CAIRN_TRY(read_root(to));
  PtrArrayPtr modified(g_ptr_array_new_with_free_func((GDestroyNotify)ostree_diff_item_unref));
  PtrArrayPtr removed(g_ptr_array_new_with_free_func(g_object_unref));
  PtrArrayPtr added(g_ptr_array_new_with_free_func(g_object_unref));
  GError* error = nullptr;
  if (!ostree_diff_dirs(OSTREE_DIFF_FLAGS_NONE, a.get(), b.get(), modified.get(), removed.get(),
                        added.get(), nullptr, &error)) {
    return fail_gerror(error, "diffing " + from + " and " + to);
  }
  TreeDiff diff;
  for (guint i = 0; i < modified->len; ++i) {
    auto* item = static_cast<OstreeDiffItem*>(g_ptr_array_index(modified.get(), i));
    diff.modified.push_back(image_path(item->target));
  }
  for (guint i = 0; i < removed->len; ++i) {
    diff.removed.push_back(image_path(static_cast<GFile*>(g_ptr_array_index(removed.get(), i))));
  }
  for (guint i = 0; i < added->len; ++i) {
    diff.added.push_back(image_path(static_cast<GFile*>(g_ptr_array_index(added.get(), i))));
  }
  return diff;
}

}  // namespace cairn::ostree
