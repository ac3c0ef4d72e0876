/* rootfs.c: commit a root filesystem directory or tarball as a deployable OSTree commit. */
#include "rootfs.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#define TAR_BLOCK (64 * 1024)

OstreeRepo *
ostick_repo_open_or_create(const char *path, OstreeRepoMode mode, GCancellable *cancellable,
	GError **error)
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

/* Device nodes, FIFOs and sockets cannot be stored in OSTree (and do not belong in an image). */
static OstreeRepoCommitFilterResult
skip_special_files(OstreeRepo *repo, const char *path, GFileInfo *info, gpointer user_data)
{
	return g_file_info_get_file_type(info) == G_FILE_TYPE_SPECIAL ? OSTREE_REPO_COMMIT_FILTER_SKIP
								       : OSTREE_REPO_COMMIT_FILTER_ALLOW;
}

static gboolean
import_tarball(OstreeRepo *repo, const char *path, OstreeMutableTree *mtree,
	OstreeRepoCommitModifier *modifier, GCancellable *cancellable, GError **error)
{
	g_autoptr(OstickArchive) archive = archive_read_new();
	OstreeRepoImportArchiveOptions opts = { 0 };

	archive_read_support_format_tar(archive);
	archive_read_support_filter_gzip(archive);
	archive_read_support_filter_xz(archive);
	archive_read_support_filter_zstd(archive);
	archive_read_support_filter_bzip2(archive);
	if (archive_read_open_filename(archive, path, TAR_BLOCK) != ARCHIVE_OK)
		return ostick_throw_errno_value(error, archive_errno(archive) > 0 ? archive_errno(archive) : EINVAL,
				"%s: %s", path, archive_error_string(archive));
	opts.autocreate_parents = TRUE;
	opts.ignore_unsupported_content = TRUE;
	if (!ostree_repo_import_archive_to_mtree(repo, &opts, archive, mtree, modifier, cancellable,
			    error))
		return g_prefix_error(error, "%s: ", path), FALSE;
	return TRUE;
}

/* The subdirectory @name of @dir, or NULL (no error) if there is none. */
static OstreeMutableTree *
lookup_subdir(OstreeMutableTree *dir, const char *name)
{
	g_autofree char *file_checksum = NULL;
	g_autoptr(OstreeMutableTree) subdir = NULL;

	if (dir == NULL ||
			!ostree_mutable_tree_lookup(dir, name, &file_checksum, &subdir, NULL))
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
	if (!ostree_mutable_tree_ensure_parent_dirs(root, split,
			    ostree_mutable_tree_get_metadata_checksum(root), &parent, error))
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
	if (dst == NULL ||
			!ostree_mutable_tree_fill_empty_from_dirtree(dst, repo,
					ostree_mutable_tree_get_contents_checksum(subtree),
					ostree_mutable_tree_get_metadata_checksum(subtree)))
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "cannot place %s at %s", src_name,
				dst_path);
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
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "boot/%s is not a file", name);
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
	static const char *const initrd_names[][2] = { { "initrd.img-", "" },
		{ "initramfs-", ".img" }, { "initrd-", "" } };
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

		if (g_hash_table_contains(ostree_mutable_tree_get_files(boot), name))
			return move_file(root, boot, name, kdir, "initramfs.img", error);
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
relocate_kernels(OstreeRepo *repo, OstreeMutableTree *root, GCancellable *cancellable,
	GError **error)
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
				g_ptr_array_add(versions, g_strdup((char *)name + strlen("vmlinuz-")));
		}
	}
	if (versions->len == 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
				"no kernel: expected usr/lib/modules/<version>/vmlinuz or "
				"boot/vmlinuz-<version> in the root filesystem");
	for (guint i = 0; i < versions->len; i++) {
		if (!move_boot_kernel(repo, root, boot, versions->pdata[i], cancellable, error))
			return FALSE;
	}
	/* Debian's /vmlinuz and /initrd.img symlinks point into /boot: they would dangle. */
	for (const char *const *l = (const char *const[]){ "vmlinuz", "vmlinuz.old", "initrd.img",
		     "initrd.img.old", NULL };
			*l; l++) {
		if (g_hash_table_contains(ostree_mutable_tree_get_files(root), *l) &&
				!ostree_mutable_tree_remove(root, *l, TRUE, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
apply_ostree_layout(OstreeRepo *repo, OstreeMutableTree *root, GCancellable *cancellable,
	GError **error)
{
	g_autoptr(OstreeMutableTree) etc = lookup_subdir(root, "etc");
	g_autoptr(OstreeMutableTree) usr_etc = lookup_path(root, "usr/etc");

	if (etc != NULL && usr_etc != NULL)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
				"the root filesystem has both /etc and /usr/etc");
	if (etc != NULL && !move_subtree(repo, root, root, "etc", "usr/etc", FALSE, cancellable,
				   error))
		return FALSE;
	return relocate_kernels(repo, root, cancellable, error);
}

static gboolean
import_rootfs(OstreeRepo *repo, const char *path, OstreeMutableTree *mtree,
	GCancellable *cancellable, GError **error)
{
	g_autoptr(OstreeRepoCommitModifier) modifier = ostree_repo_commit_modifier_new(
			OSTREE_REPO_COMMIT_MODIFIER_FLAGS_NONE, skip_special_files, NULL, NULL);

	if (g_file_test(path, G_FILE_TEST_IS_DIR))
		return ostree_repo_write_dfd_to_mtree(repo, AT_FDCWD, path, mtree, modifier,
				cancellable, error);
	if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
		return import_tarball(repo, path, mtree, modifier, cancellable, error);
	return ostick_throw_errno_value(error, ENOENT, "rootfs %s", path);
}

static GVariant *
commit_metadata(const OstickRootfsOptions *options, GFile *root, GCancellable *cancellable,
	GError **error)
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
					OSTREE_REPO_FILE(root), options->timestamp, &checksum,
					cancellable, error))
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
	ostree_repo_transaction_set_ref(repo, NULL, options->ref, checksum);
	if (!ostree_repo_commit_transaction(repo, NULL, cancellable, error))
		return NULL;
	return g_steal_pointer(&checksum);
}
