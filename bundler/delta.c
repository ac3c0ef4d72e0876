/* delta.c: generate a complete (fallback-free) static delta and size what it installs. */
#include "delta.h"

#include "ostick-error.h"

#include <errno.h>
#include <fcntl.h>

#define BLOCK 4096
#define LIBOSTREE_XZ_PRESET 8 /* ostree-lzma-compressor.c, 2022.7 */
#define REENCODED_XZ_PRESET 0

OstreeRepo *
ostick_repo_open(const char *path, GCancellable *cancellable, GError **error)
{
	g_autofree char *config = g_build_filename(path, "config", NULL);
	g_autoptr(OstreeRepo) repo = NULL;

	if (!g_file_test(config, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no OSTree repository at %s",
			path);
		return NULL;
	}
	repo = ostree_repo_open_at(AT_FDCWD, path, cancellable, error);
	if (repo == NULL)
		g_prefix_error(error, "repository %s: ", path);
	return g_steal_pointer(&repo);
}

char *
ostick_repo_resolve_commit(OstreeRepo *repo, const char *rev, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	g_autofree char *checksum = NULL;
	OstreeRepoCommitState state = 0;

	if (!ostree_repo_resolve_rev(repo, rev, TRUE, &checksum, &local_error)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: %s", rev,
			local_error->message);
		return NULL;
	}
	if (checksum == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no ref or commit '%s'", rev);
		return NULL;
	}
	if (!ostree_repo_load_commit(repo, checksum, NULL, &state, &local_error)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "commit %s (%s): %s", checksum,
			rev, local_error->message);
		return NULL;
	}
	if (state & OSTREE_REPO_COMMIT_STATE_PARTIAL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			"commit %s (%s) is partial: not all its objects are in the repo", checksum,
			rev);
		return NULL;
	}
	return g_steal_pointer(&checksum);
}

gboolean
ostick_delta_generate(OstreeRepo *repo, const char *from, const char *to,
	const OstickDeltaOptions *options, const char *dir, GCancellable *cancellable,
	GError **error)
{
	g_autofree char *superblock = g_build_filename(dir, "superblock", NULL);
	g_auto(GVariantBuilder) params;
	guint overridden = ostick_delta_xz_overridden_count();
	gboolean ok;

	g_variant_builder_init(&params, G_VARIANT_TYPE_VARDICT);
	/* LIBOSTREE-NOTES: with the default (4 MB) large objects become HTTP fallbacks, which an
	 * offline apply cannot fetch. 0 disables fallbacks: every object is in a part. */
	g_variant_builder_add(&params, "{sv}", "min-fallback-size", g_variant_new_uint32(0));
	g_variant_builder_add(
		&params, "{sv}", "max-chunk-size", g_variant_new_uint32(options->max_part_mb));
	g_variant_builder_add(
		&params, "{sv}", "bsdiff-enabled", g_variant_new_boolean(options->bsdiff));
	/* Separate part files: each becomes a tar member with its own hash in the manifest. */
	g_variant_builder_add(&params, "{sv}", "inline-parts", g_variant_new_boolean(FALSE));
	g_variant_builder_add(&params, "{sv}", "filename", g_variant_new_bytestring(superblock));
	/* Re-encoded parts: libostree's xz is decoded once and thrown away (xz-preset.c). */
	ostick_delta_override_xz_preset(options->reencoded ? REENCODED_XZ_PRESET : -1);
	ok = ostree_repo_static_delta_generate(repo, OSTREE_STATIC_DELTA_GENERATE_OPT_MAJOR, from,
		to, NULL, g_variant_builder_end(&params), cancellable, error);
	ostick_delta_override_xz_preset(-1);
	if (!ok)
		return g_prefix_error(error, "generating the static delta: "), FALSE;
	if (options->reencoded)
		g_debug("xz preset %d (not libostree's %d) for %u delta parts", REENCODED_XZ_PRESET,
			LIBOSTREE_XZ_PRESET, ostick_delta_xz_overridden_count() - overridden);
	return TRUE;
}

static gboolean
object_size(OstreeRepo *repo, GVariant *name, guint64 *out_size, GCancellable *cancellable,
	GError **error)
{
	const char *checksum;
	OstreeObjectType type;
	g_autoptr(GFileInfo) info = NULL;
	g_autoptr(GVariant) variant = NULL;

	ostree_object_name_deserialize(name, &checksum, &type);
	if (type == OSTREE_OBJECT_TYPE_FILE) {
		if (!ostree_repo_load_file(repo, checksum, NULL, &info, NULL, cancellable, error))
			return FALSE;
		*out_size = g_file_info_get_file_type(info) == G_FILE_TYPE_REGULAR
				    ? (guint64)g_file_info_get_size(info)
				    : 0;
		return TRUE;
	}
	if (!ostree_repo_load_variant(repo, type, checksum, &variant, error))
		return FALSE;
	*out_size = g_variant_get_size(variant);
	return TRUE;
}

gboolean
ostick_delta_install_size(OstreeRepo *repo, const char *from, const char *to, guint64 *out_size,
	GCancellable *cancellable, GError **error)
{
	g_autoptr(GHashTable) target = NULL;
	g_autoptr(GHashTable) base = NULL;
	GHashTableIter iter;
	gpointer key;
	guint64 total = 0;

	if (!ostree_repo_traverse_commit(repo, to, 0, &target, cancellable, error))
		return FALSE;
	if (from != NULL && !ostree_repo_traverse_commit(repo, from, 0, &base, cancellable, error))
		return FALSE;
	g_hash_table_iter_init(&iter, target);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		guint64 size = 0;

		if (base != NULL && g_hash_table_contains(base, key))
			continue;
		if (!object_size(repo, key, &size, cancellable, error))
			return FALSE;
		total += (size + BLOCK - 1) / BLOCK * BLOCK;
	}
	*out_size = total;
	return TRUE;
}
