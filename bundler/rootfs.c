/* rootfs.c: commit a root filesystem directory or tarball as a deployable OSTree commit. */
#include "rootfs.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#define TAR_BLOCK (64 * 1024)

OstreeRepo *
ostick_repo_open_or_create(
	const char *path, OstreeRepoMode mode, GCancellable *cancellable, GError **error)
{
	g_autoptr(GFile) dir = g_file_new_for_path(path);
	g_autoptr(OstreeRepo) repo = ostree_repo_new(dir);
	g_autofree char *config = g_build_filename(path, "config", NULL);

	if (g_file_test(config, G_FILE_TEST_IS_REGULAR)) {
		if (!ostree_repo_open(repo, cancellable, error))
			return g_prefix_error(error, "repository %s: ", path), NULL;
		return g_steal_pointer(&repo);
	}
	if (g_mkdir_with_parents(path, 0755) < 0) {
		ostick_throw_errno(error, "creating %s", path);
		return NULL;
	}
	if (!ostree_repo_create(repo, mode, cancellable, error))
		return g_prefix_error(error, "creating repository %s: ", path), NULL;
	return g_steal_pointer(&repo);
}

/* Device nodes, FIFOs and sockets cannot be stored in OSTree (and do not belong in an image).
 * libostree calls the filter for tarball members only: in a directory it refuses them before
 * asking (2022.7 write_dfd_iter_to_mtree_internal), hence import_dir() below. */
static OstreeRepoCommitFilterResult
skip_special_files(OstreeRepo *repo, const char *path, GFileInfo *info, gpointer user_data)
{
	return g_file_info_get_file_type(info) == G_FILE_TYPE_SPECIAL
		       ? OSTREE_REPO_COMMIT_FILTER_SKIP
		       : OSTREE_REPO_COMMIT_FILTER_ALLOW;
}

static gboolean throw_invalid(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* A root filesystem ostick cannot use: exit 1 (README "Exit codes"); 4 is about bundles. */
static gboolean
throw_invalid(GError **error, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	if (error != NULL)
		*error = g_error_new_valist(G_IO_ERROR, G_IO_ERROR_INVALID_DATA, fmt, args);
	va_end(args);
	return FALSE;
}

/* libarchive's last error on @a: its errno when a syscall failed (EIO, EACCES...), else
 * G_IO_ERROR_INVALID_DATA with libarchive's text. */
static gboolean
throw_archive(struct archive *a, const char *what, GError **error)
{
	int errsv = archive_errno(a);
	const char *message = archive_error_string(a);

	/* Format and decompression errors come as EILSEQ, EINVAL or -1: no syscall failed. */
	if (errsv > 0 && errsv != EILSEQ && errsv != EINVAL)
		return ostick_throw_errno_value(error, errsv, "%s", what);
	return throw_invalid(error, "%s: %s", what, message ? message : "libarchive error");
}

static OstickArchive *
open_tarball(const char *path, GError **error)
{
	g_autoptr(OstickArchive) archive = archive_read_new();

	archive_read_support_format_tar(archive);
	archive_read_support_filter_gzip(archive);
	archive_read_support_filter_xz(archive);
	archive_read_support_filter_zstd(archive);
	archive_read_support_filter_bzip2(archive);
	if (archive_read_open_filename(archive, path, TAR_BLOCK) != ARCHIVE_OK) {
		throw_archive(archive, "not a readable tarball", error);
		return NULL;
	}
	return g_steal_pointer(&archive);
}

/* A member name with a ".." component would leave the root filesystem. */
static gboolean
escapes_root(const char *name)
{
	g_auto(GStrv) parts = g_strsplit(name, "/", -1);

	for (guint i = 0; parts[i] != NULL; i++) {
		if (strcmp(parts[i], "..") == 0)
			return TRUE;
	}
	return FALSE;
}

/* The first proper prefix of member @name (ignoring "/", "." and empty components) that an
 * earlier member made a file or symlink, or NULL. @name itself then goes into @files if it is not
 * a directory, out of it if it is. libostree 2022.7 fails on a member below a file without
 * setting an error. */
static char *
below_file(const char *name, gboolean is_dir, GHashTable *files)
{
	g_auto(GStrv) parts = g_strsplit(name, "/", -1);
	g_autoptr(GString) path = g_string_new(NULL);

	for (guint i = 0; parts[i] != NULL; i++) {
		if (parts[i][0] == '\0' || strcmp(parts[i], ".") == 0)
			continue;
		if (path->len > 0 && g_hash_table_contains(files, path->str))
			return g_strdup(path->str);
		g_string_append_printf(path, "%s%s", path->len ? "/" : "", parts[i]);
	}
	/* A later member replaces an earlier one of the same name, as when extracting. */
	if (is_dir)
		g_hash_table_remove(files, path->str);
	else if (path->len > 0)
		g_hash_table_add(files, g_strdup(path->str));
	return NULL;
}

static gboolean
check_member(struct archive *archive, struct archive_entry *entry, GHashTable *files,
	GCancellable *cancellable, GError **error)
{
	const char *name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
	const char *link = archive_entry_hardlink(entry);
	g_autofree char *file = NULL;
	const void *block;
	size_t len;
	la_int64_t offset;
	int r;

	if (escapes_root(name) || (link != NULL && escapes_root(link)))
		return throw_invalid(error, "member '%s'%s%s leaves the root filesystem ('..')",
			name, link ? " linked to " : "", link ? link : "");
	file = below_file(name, archive_entry_filetype(entry) == AE_IFDIR, files);
	if (file != NULL)
		return throw_invalid(
			error, "member '%s' is below '%s', which is not a directory", name, file);
	/* Read the data, do not skip it: a seek past the end of a truncated .tar succeeds. */
	while ((r = archive_read_data_block(archive, &block, &len, &offset)) == ARCHIVE_OK) {
		if (g_cancellable_set_error_if_cancelled(cancellable, error))
			return FALSE;
	}
	if (r != ARCHIVE_EOF) {
		g_autofree char *what = g_strdup_printf("corrupt tarball at member '%s'", name);

		return throw_archive(archive, what, error);
	}
	return TRUE;
}

/* libostree 2022.7 passes libarchive's negative status (not -1) up through a GInputStream, so a
 * read error inside a member (a truncated or corrupt tarball) makes GIO's splice loop forever in
 * ostree_repo_import_archive_to_mtree(). Read the whole tarball once before libostree does. */
static gboolean
check_tarball(const char *path, GCancellable *cancellable, GError **error)
{
	g_autoptr(OstickArchive) archive = open_tarball(path, error);
	g_autoptr(GHashTable) files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	struct archive_entry *entry;
	guint n_members = 0;
	int r;

	if (archive == NULL)
		return FALSE;
	while ((r = archive_read_next_header(archive, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (!check_member(archive, entry, files, cancellable, error))
			return FALSE;
		n_members++;
	}
	if (r != ARCHIVE_EOF)
		return throw_archive(
			archive, n_members ? "corrupt tarball" : "not a tarball", error);
	if (n_members == 0)
		return throw_invalid(error, "empty tarball");
	return TRUE;
}

static gboolean
import_tarball(OstreeRepo *repo, const char *path, OstreeMutableTree *mtree,
	OstreeRepoCommitModifier *modifier, GCancellable *cancellable, GError **error)
{
	g_autoptr(OstickArchive) archive = NULL;
	OstreeRepoImportArchiveOptions opts = {0};

	if (!check_tarball(path, cancellable, error))
		return FALSE;
	archive = open_tarball(path, error);
	if (archive == NULL)
		return FALSE;
	opts.autocreate_parents = TRUE;
	opts.ignore_unsupported_content = TRUE;
	if (ostree_repo_import_archive_to_mtree(
		    repo, &opts, archive, mtree, modifier, cancellable, error))
		return TRUE;
	/* libostree 2022.7 has paths that fail without an error (see below_file()). */
	if (error != NULL && *error == NULL)
		return throw_invalid(error, "libostree could not import it");
	return FALSE;
}

/* The subdirectory @name of @dir, or NULL (no error) if there is none. */
static OstreeMutableTree *
lookup_subdir(OstreeMutableTree *dir, const char *name)
{
	g_autofree char *file_checksum = NULL;
	g_autoptr(OstreeMutableTree) subdir = NULL;

	if (dir == NULL || !ostree_mutable_tree_lookup(dir, name, &file_checksum, &subdir, NULL))
		return NULL;
	return g_steal_pointer(&subdir);
}

static OstreeMutableTree *
lookup_path(OstreeMutableTree *root, const char *path)
{
	g_auto(GStrv) parts = g_strsplit(path, "/", -1);
	g_autoptr(OstreeMutableTree) dir = g_object_ref(root);

	for (guint i = 0; parts[i] != NULL && dir != NULL; i++) {
		OstreeMutableTree *next = lookup_subdir(dir, parts[i]);

		g_object_unref(dir);
		dir = next;
	}
	return g_steal_pointer(&dir);
}

/* The directory at @path below @root, created (with @root's metadata) where missing. */
static OstreeMutableTree *
ensure_path(OstreeMutableTree *root, const char *path, GError **error)
{
	g_autofree char *with_leaf = g_strconcat(path, "/x", NULL);
	g_auto(GStrv) parts = g_strsplit(with_leaf, "/", -1);
	g_autoptr(GPtrArray) split = g_ptr_array_new();
	OstreeMutableTree *parent = NULL;

	for (guint i = 0; parts[i] != NULL; i++)
		g_ptr_array_add(split, parts[i]);
	if (!ostree_mutable_tree_ensure_parent_dirs(
		    root, split, ostree_mutable_tree_get_metadata_checksum(root), &parent, error))
		return NULL;
	return parent;
}

/* Moves the subtree @src_name of @src to @dst_path (which must not exist) below @root. */
static gboolean
move_subtree(OstreeRepo *repo, OstreeMutableTree *root, OstreeMutableTree *src,
	const char *src_name, const char *dst_path, gboolean keep_source, GCancellable *cancellable,
	GError **error)
{
	g_autoptr(OstreeMutableTree) subtree = lookup_subdir(src, src_name);
	g_autoptr(OstreeMutableTree) dst = NULL;
	g_autoptr(GFile) written = NULL;

	g_return_val_if_fail(subtree != NULL, FALSE);
	/* Writing it gives it contents and metadata checksums, which the new place adopts. */
	if (!ostree_repo_write_mtree(repo, subtree, &written, cancellable, error))
		return FALSE;
	dst = ensure_path(root, dst_path, error);
	if (dst == NULL || !ostree_mutable_tree_fill_empty_from_dirtree(dst, repo,
				   ostree_mutable_tree_get_contents_checksum(subtree),
				   ostree_mutable_tree_get_metadata_checksum(subtree)))
		return throw_invalid(error, "cannot place %s at %s", src_name, dst_path);
	if (!keep_source && !ostree_mutable_tree_remove(src, src_name, FALSE, error))
		return FALSE;
	return TRUE;
}

static gboolean
move_file(OstreeMutableTree *root, OstreeMutableTree *src, const char *name, const char *dst_dir,
	const char *dst_name, GError **error)
{
	g_autofree char *checksum = NULL;
	g_autoptr(OstreeMutableTree) subdir = NULL;
	g_autoptr(OstreeMutableTree) dst = NULL;

	if (!ostree_mutable_tree_lookup(src, name, &checksum, &subdir, error))
		return FALSE;
	if (checksum == NULL)
		return throw_invalid(error, "boot/%s is not a file", name);
	dst = ensure_path(root, dst_dir, error);
	if (dst == NULL || !ostree_mutable_tree_replace_file(dst, dst_name, checksum, error))
		return FALSE;
	return ostree_mutable_tree_remove(src, name, FALSE, error);
}

static gboolean
has_modules_kernel(OstreeMutableTree *root)
{
	g_autoptr(OstreeMutableTree) modules = lookup_path(root, "usr/lib/modules");
	GHashTableIter iter;
	gpointer subdir;

	if (modules == NULL)
		return FALSE;
	g_hash_table_iter_init(&iter, ostree_mutable_tree_get_subdirs(modules));
	while (g_hash_table_iter_next(&iter, NULL, &subdir)) {
		if (g_hash_table_contains(ostree_mutable_tree_get_files(subdir), "vmlinuz"))
			return TRUE;
	}
	return FALSE;
}

/* Moves boot/vmlinuz-VER and its initramfs and device trees to usr/lib/modules/VER/. */
static gboolean
move_boot_kernel(OstreeRepo *repo, OstreeMutableTree *root, OstreeMutableTree *boot,
	const char *version, GCancellable *cancellable, GError **error)
{
	/* Debian/Ubuntu, Fedora/dracut, and plain names of an initramfs, as prefix + suffix. */
	static const char *const initrd_names[][2] = {
		{"initrd.img-", ""}, {"initramfs-", ".img"}, {"initrd-", ""}};
	g_autofree char *kdir = g_strdup_printf("usr/lib/modules/%s", version);
	g_autofree char *kernel = g_strdup_printf("vmlinuz-%s", version);
	g_autofree char *debian_dtbs = g_strdup_printf("usr/lib/linux-image-%s", version);
	g_autofree char *dtb_dir = g_strconcat(kdir, "/dtb", NULL);
	g_autoptr(OstreeMutableTree) dtbs = lookup_path(boot, "dtbs");
	g_autoptr(OstreeMutableTree) debian_dtb_tree = lookup_path(root, debian_dtbs);

	if (!move_file(root, boot, kernel, kdir, "vmlinuz", error))
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(initrd_names); i++) {
		g_autofree char *name =
			g_strconcat(initrd_names[i][0], version, initrd_names[i][1], NULL);

		if (!g_hash_table_contains(ostree_mutable_tree_get_files(boot), name))
			continue;
		/* The device trees below still move: no early return here. */
		if (!move_file(root, boot, name, kdir, "initramfs.img", error))
			return FALSE;
		break;
	}
	g_autoptr(OstreeMutableTree) versioned_dtbs = lookup_subdir(dtbs, version);

	if (versioned_dtbs != NULL)
		return move_subtree(repo, root, dtbs, version, dtb_dir, FALSE, cancellable, error);
	if (debian_dtb_tree != NULL) {
		g_autoptr(OstreeMutableTree) parent = lookup_path(root, "usr/lib");
		g_autofree char *name = g_strdup_printf("linux-image-%s", version);

		return move_subtree(repo, root, parent, name, dtb_dir, TRUE, cancellable, error);
	}
	return TRUE;
}

static gboolean
relocate_kernels(
	OstreeRepo *repo, OstreeMutableTree *root, GCancellable *cancellable, GError **error)
{
	g_autoptr(OstreeMutableTree) boot = lookup_subdir(root, "boot");
	g_autoptr(GPtrArray) versions = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter iter;
	gpointer name;

	if (has_modules_kernel(root))
		return TRUE;
	if (boot != NULL) {
		g_hash_table_iter_init(&iter, ostree_mutable_tree_get_files(boot));
		while (g_hash_table_iter_next(&iter, &name, NULL)) {
			if (g_str_has_prefix(name, "vmlinuz-"))
				g_ptr_array_add(
					versions, g_strdup((char *)name + strlen("vmlinuz-")));
		}
	}
	if (versions->len == 0)
		return throw_invalid(error,
			"no kernel: expected usr/lib/modules/<version>/vmlinuz or "
			"boot/vmlinuz-<version> in the root filesystem");
	for (guint i = 0; i < versions->len; i++) {
		if (!move_boot_kernel(repo, root, boot, versions->pdata[i], cancellable, error))
			return FALSE;
	}
	/* Debian's /vmlinuz and /initrd.img symlinks point into /boot: they would dangle. */
	for (const char *const *l = (const char *const[]){"vmlinuz", "vmlinuz.old", "initrd.img",
		     "initrd.img.old", NULL};
		*l; l++) {
		if (g_hash_table_contains(ostree_mutable_tree_get_files(root), *l) &&
			!ostree_mutable_tree_remove(root, *l, TRUE, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
apply_ostree_layout(
	OstreeRepo *repo, OstreeMutableTree *root, GCancellable *cancellable, GError **error)
{
	g_autoptr(OstreeMutableTree) etc = lookup_subdir(root, "etc");
	g_autoptr(OstreeMutableTree) usr_etc = lookup_path(root, "usr/etc");

	if (etc != NULL && usr_etc != NULL)
		return throw_invalid(error, "the root filesystem has both /etc and /usr/etc");
	if (etc != NULL &&
		!move_subtree(repo, root, root, "etc", "usr/etc", FALSE, cancellable, error))
		return FALSE;
	return relocate_kernels(repo, root, cancellable, error);
}

/* Adds to @dirs the relative path ("" for @path itself) of every directory at or below @path
 * that has a device node, FIFO or socket somewhere beneath it. */
static gboolean
scan_special(const char *path, const char *relpath, GHashTable *dirs, gboolean *out_found,
	GError **error)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, error);
	gboolean found = FALSE;
	const char *name;

	if (dir == NULL)
		return FALSE;
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *child = g_build_filename(path, name, NULL);
		g_autofree char *child_rel =
			relpath[0] ? g_strconcat(relpath, "/", name, NULL) : g_strdup(name);
		gboolean below = FALSE;
		GStatBuf st;

		if (g_lstat(child, &st) < 0)
			return ostick_throw_errno(error, "%s", child);
		if (S_ISDIR(st.st_mode) && !scan_special(child, child_rel, dirs, &below, error))
			return FALSE;
		found |= below ||
			 !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode) || S_ISLNK(st.st_mode));
	}
	if (found)
		g_hash_table_add(dirs, g_strdup(relpath));
	*out_found = found;
	return TRUE;
}

/* What libostree's file header and dirmeta read: type, mode, owner, size, symlink target. */
static GFileInfo *
file_info_for(const char *path, const GStatBuf *st, GError **error)
{
	g_autoptr(GFileInfo) info = g_file_info_new();

	g_file_info_set_attribute_uint32(info, "unix::mode", st->st_mode);
	g_file_info_set_attribute_uint32(info, "unix::uid", st->st_uid);
	g_file_info_set_attribute_uint32(info, "unix::gid", st->st_gid);
	g_file_info_set_attribute_uint32(info, "unix::rdev", 0);
	g_file_info_set_size(info, S_ISREG(st->st_mode) ? st->st_size : 0);
	if (S_ISDIR(st->st_mode)) {
		g_file_info_set_file_type(info, G_FILE_TYPE_DIRECTORY);
	} else if (S_ISREG(st->st_mode)) {
		g_file_info_set_file_type(info, G_FILE_TYPE_REGULAR);
	} else {
		g_autofree char *target = g_file_read_link(path, error);

		if (target == NULL)
			return NULL;
		g_file_info_set_file_type(info, G_FILE_TYPE_SYMBOLIC_LINK);
		g_file_info_set_is_symlink(info, TRUE);
		g_file_info_set_symlink_target(info, target);
	}
	return g_steal_pointer(&info);
}

/* On-disk xattrs, as libostree's own directory import takes them (none in bare-user-only). */
static GVariant *
xattrs_for(OstreeRepo *repo, const char *path, GCancellable *cancellable, GError **error)
{
	if (ostree_repo_get_mode(repo) == OSTREE_REPO_MODE_BARE_USER_ONLY)
		return g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("(ayay)"), NULL, 0));
	return ostree_fs_get_all_xattrs_at(AT_FDCWD, path, cancellable, error);
}

static gboolean
write_dirmeta(OstreeRepo *repo, const char *path, OstreeMutableTree *mtree,
	GCancellable *cancellable, GError **error)
{
	g_autoptr(GFileInfo) info = NULL;
	g_autoptr(GVariant) xattrs = NULL;
	g_autoptr(GVariant) dirmeta = NULL;
	g_autofree guchar *csum = NULL;
	g_autofree char *checksum = NULL;
	GStatBuf st;

	if (g_stat(path, &st) < 0)
		return ostick_throw_errno(error, "%s", path);
	info = file_info_for(path, &st, error);
	xattrs = info ? xattrs_for(repo, path, cancellable, error) : NULL;
	if (xattrs == NULL)
		return FALSE;
	dirmeta = ostree_create_directory_metadata(info, xattrs);
	if (!ostree_repo_write_metadata(
		    repo, OSTREE_OBJECT_TYPE_DIR_META, NULL, dirmeta, &csum, cancellable, error))
		return FALSE;
	checksum = ostree_checksum_from_bytes(csum);
	ostree_mutable_tree_set_metadata_checksum(mtree, checksum);
	return TRUE;
}

/* A regular file or symlink @name of @mtree, read from @path. */
static gboolean
write_file(OstreeRepo *repo, const char *path, const char *name, const GStatBuf *st,
	OstreeMutableTree *mtree, GCancellable *cancellable, GError **error)
{
	g_autoptr(GFileInfo) info = file_info_for(path, st, error);
	g_autoptr(GVariant) xattrs = info ? xattrs_for(repo, path, cancellable, error) : NULL;
	g_autoptr(GInputStream) input = NULL;
	g_autoptr(GInputStream) content = NULL;
	g_autofree guchar *csum = NULL;
	g_autofree char *checksum = NULL;
	guint64 length = 0;

	if (xattrs == NULL)
		return FALSE;
	if (S_ISREG(st->st_mode)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

		if (fd < 0)
			return ostick_throw_errno(error, "%s", path);
		input = g_unix_input_stream_new(fd, TRUE);
	}
	if (!ostree_raw_file_to_content_stream(
		    input, info, xattrs, &content, &length, cancellable, error) ||
		!ostree_repo_write_content(repo, NULL, content, length, &csum, cancellable, error))
		return FALSE;
	checksum = ostree_checksum_from_bytes(csum);
	return ostree_mutable_tree_replace_file(mtree, name, checksum, error);
}

static gboolean import_dir(OstreeRepo *repo, const char *path, const char *relpath,
	OstreeMutableTree *mtree, OstreeRepoCommitModifier *modifier, GHashTable *special_dirs,
	GCancellable *cancellable, GError **error);

static gboolean
import_entry(OstreeRepo *repo, const char *dir_path, const char *relpath, const char *name,
	OstreeMutableTree *mtree, OstreeRepoCommitModifier *modifier, GHashTable *special_dirs,
	GCancellable *cancellable, GError **error)
{
	g_autofree char *path = g_build_filename(dir_path, name, NULL);
	g_autofree char *child_rel =
		relpath[0] ? g_strconcat(relpath, "/", name, NULL) : g_strdup(name);
	g_autoptr(OstreeMutableTree) child = NULL;
	GStatBuf st;

	if (g_lstat(path, &st) < 0)
		return ostick_throw_errno(error, "%s", path);
	if (S_ISDIR(st.st_mode))
		return ostree_mutable_tree_ensure_dir(mtree, name, &child, error) &&
		       import_dir(repo, path, child_rel, child, modifier, special_dirs, cancellable,
			       error);
	if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
		return write_file(repo, path, name, &st, mtree, cancellable, error);
	return TRUE; /* a device node, FIFO or socket: skipped, as in a tarball */
}

/* libostree imports a directory with no special file below it; ostick walks the few that have
 * one (typically / and /dev) itself. */
static gboolean
import_dir(OstreeRepo *repo, const char *path, const char *relpath, OstreeMutableTree *mtree,
	OstreeRepoCommitModifier *modifier, GHashTable *special_dirs, GCancellable *cancellable,
	GError **error)
{
	g_autoptr(GDir) dir = NULL;
	const char *name;

	if (!g_hash_table_contains(special_dirs, relpath))
		return ostree_repo_write_dfd_to_mtree(
			repo, AT_FDCWD, path, mtree, modifier, cancellable, error);
	if (!write_dirmeta(repo, path, mtree, cancellable, error) ||
		(dir = g_dir_open(path, 0, error)) == NULL)
		return FALSE;
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (g_cancellable_set_error_if_cancelled(cancellable, error) ||
			!import_entry(repo, path, relpath, name, mtree, modifier, special_dirs,
				cancellable, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
import_directory(OstreeRepo *repo, const char *path, OstreeMutableTree *mtree,
	OstreeRepoCommitModifier *modifier, GCancellable *cancellable, GError **error)
{
	g_autoptr(GHashTable) special_dirs =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	gboolean found = FALSE;

	if (!scan_special(path, "", special_dirs, &found, error))
		return FALSE;
	return import_dir(repo, path, "", mtree, modifier, special_dirs, cancellable, error);
}

static gboolean
import_rootfs(OstreeRepo *repo, const char *path, OstreeMutableTree *mtree,
	GCancellable *cancellable, GError **error)
{
	g_autoptr(OstreeRepoCommitModifier) modifier = ostree_repo_commit_modifier_new(
		OSTREE_REPO_COMMIT_MODIFIER_FLAGS_NONE, skip_special_files, NULL, NULL);

	if (g_file_test(path, G_FILE_TEST_IS_DIR))
		return import_directory(repo, path, mtree, modifier, cancellable, error);
	if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
		return import_tarball(repo, path, mtree, modifier, cancellable, error);
	if (g_file_test(path, G_FILE_TEST_EXISTS))
		return throw_invalid(error, "not a directory or a tarball");
	return ostick_throw_errno_value(error, ENOENT, "no such directory or tarball");
}

static GVariant *
commit_metadata(
	const OstickRootfsOptions *options, GFile *root, GCancellable *cancellable, GError **error)
{
	g_autoptr(GVariantDict) dict = g_variant_dict_new(NULL);

	g_variant_dict_insert(dict, "version", "s", options->version);
	if (!ostree_commit_metadata_for_bootable(root, dict, cancellable, error))
		return NULL;
	return g_variant_ref_sink(g_variant_dict_end(dict));
}

static char *
write_commit(OstreeRepo *repo, const OstickRootfsOptions *options, OstreeMutableTree *mtree,
	GCancellable *cancellable, GError **error)
{
	g_autoptr(GFile) root = NULL;
	g_autoptr(GVariant) metadata = NULL;
	g_autofree char *parent = NULL;
	g_autofree char *checksum = NULL;
	g_autofree char *base = g_path_get_basename(options->path);
	g_autofree char *subject = g_strdup_printf("%s (from %s)", options->version, base);

	if (!ostree_repo_resolve_rev(repo, options->ref, TRUE, &parent, error) ||
		!ostree_repo_write_mtree(repo, mtree, &root, cancellable, error))
		return NULL;
	metadata = commit_metadata(options, root, cancellable, error);
	if (metadata == NULL ||
		!ostree_repo_write_commit_with_time(repo, parent, subject, NULL, metadata,
			OSTREE_REPO_FILE(root), options->timestamp, &checksum, cancellable, error))
		return NULL;
	return g_steal_pointer(&checksum);
}

char *
ostick_rootfs_commit(OstreeRepo *repo, const OstickRootfsOptions *options,
	GCancellable *cancellable, GError **error)
{
	g_autoptr(OstreeMutableTree) mtree = ostree_mutable_tree_new();
	g_autofree char *checksum = NULL;

	if (!ostree_repo_prepare_transaction(repo, NULL, cancellable, error))
		return NULL;
	if (!import_rootfs(repo, options->path, mtree, cancellable, error) ||
		!apply_ostree_layout(repo, mtree, cancellable, error) ||
		(checksum = write_commit(repo, options, mtree, cancellable, error)) == NULL) {
		(void)ostree_repo_abort_transaction(repo, NULL, NULL);
		return NULL;
	}
	if (!ostree_repo_commit_transaction(repo, NULL, cancellable, error))
		return NULL;
	return g_steal_pointer(&checksum);
}
