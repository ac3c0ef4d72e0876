/* complete.c: is every object a commit reaches in the repo?
 *
 * After a delta, libostree has written what the delta carries, and the rest must come from the
 * base. A full traversal loads every dirtree and looks up every file, which on an A -> B update
 * is mostly the base's own tree over again. Walking the target against a base known complete
 * (not marked partial, checked before the install) only descends where the two differ: a
 * subtree with the base's checksum at the same path is the base's, and so is a file with the
 * base's checksum under the same name. Only a checksum equal to the base's is ever skipped,
 * so an odd base (unsorted, or another tree altogether) costs lookups, never a missed object.
 */
#include "policy.h"

#include <string.h>

typedef struct {
	OstreeRepo *repo;
	GHashTable *walked; /* dirtree checksums whose subtree was found complete */
	GCancellable *cancellable;
} Walk;

static gboolean
missing(OstreeObjectType type, const char *checksum, GError **error)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "object %s.%s is missing", checksum,
		ostree_object_type_to_string(type));
	return FALSE;
}

static gboolean
require_object(Walk *w, OstreeObjectType type, const char *checksum, GError **error)
{
	gboolean present = FALSE;

	if (!ostree_repo_has_object(w->repo, type, checksum, &present, w->cancellable, error))
		return FALSE;
	return present || missing(type, checksum, error);
}

static gboolean
load_object(Walk *w, OstreeObjectType type, const char *checksum, GVariant **out, GError **error)
{
	g_autoptr(GError) local_error = NULL;

	if (ostree_repo_load_variant(w->repo, type, checksum, out, &local_error))
		return TRUE;
	if (g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
		return missing(type, checksum, error);
	g_propagate_error(error, g_steal_pointer(&local_error));
	return FALSE;
}

/* The checksum (ay) of @v's child @index, or NULL if it is not 32 bytes. */
static const guint8 *
child_csum(GVariant *v, gsize index)
{
	g_autoptr(GVariant) child = g_variant_get_child_value(v, index);

	return ostree_checksum_bytes_peek_validate(child, NULL);
}

static const char *
child_name(GVariant *v)
{
	g_autoptr(GVariant) name = g_variant_get_child_value(v, 0);

	return g_variant_get_string(name, NULL);
}

/* The index in @base_entries (sorted by name, as libostree writes them) of @name, searching on
 * from *@cursor; G_MAXSIZE if none. */
static gsize
find_entry(GVariant *base_entries, gsize *cursor, const char *name)
{
	gsize n = base_entries == NULL ? 0 : g_variant_n_children(base_entries);

	while (*cursor < n) {
		g_autoptr(GVariant) entry = g_variant_get_child_value(base_entries, *cursor);
		int order = strcmp(child_name(entry), name);

		if (order > 0)
			break;
		(*cursor)++;
		if (order == 0)
			return *cursor - 1;
	}
	return G_MAXSIZE;
}

static gboolean
same_csum(GVariant *base_entries, gsize index, gsize field, const guint8 *csum)
{
	g_autoptr(GVariant) entry = NULL;
	const guint8 *base_csum;

	if (index == G_MAXSIZE || csum == NULL)
		return FALSE;
	entry = g_variant_get_child_value(base_entries, index);
	base_csum = child_csum(entry, field);
	return base_csum != NULL && memcmp(base_csum, csum, OSTREE_SHA256_DIGEST_LEN) == 0;
}

static gboolean walk_tree(Walk *w, const guint8 *tree, const guint8 *meta, const guint8 *base_tree,
	const guint8 *base_meta, GError **error);

static gboolean
walk_files(Walk *w, GVariant *files, GVariant *base_files, GError **error)
{
	gsize cursor = 0;

	for (gsize i = 0; i < g_variant_n_children(files); i++) {
		g_autoptr(GVariant) file = g_variant_get_child_value(files, i);
		const guint8 *csum = child_csum(file, 1);
		char hex[OSTREE_SHA256_STRING_LEN + 1];

		if (same_csum(
			    base_files, find_entry(base_files, &cursor, child_name(file)), 1, csum))
			continue;
		if (csum == NULL)
			return missing(OSTREE_OBJECT_TYPE_FILE, "(malformed checksum)", error);
		ostree_checksum_inplace_from_bytes(csum, hex);
		if (!require_object(w, OSTREE_OBJECT_TYPE_FILE, hex, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
walk_dirs(Walk *w, GVariant *dirs, GVariant *base_dirs, GError **error)
{
	gsize cursor = 0;

	for (gsize i = 0; i < g_variant_n_children(dirs); i++) {
		g_autoptr(GVariant) dir = g_variant_get_child_value(dirs, i);
		gsize at = find_entry(base_dirs, &cursor, child_name(dir));
		/* (the checksums point into the variants' data, alive for the call) */
		g_autoptr(GVariant) base_dir =
			at == G_MAXSIZE ? NULL : g_variant_get_child_value(base_dirs, at);

		if (!walk_tree(w, child_csum(dir, 1), child_csum(dir, 2),
			    base_dir == NULL ? NULL : child_csum(base_dir, 1),
			    base_dir == NULL ? NULL : child_csum(base_dir, 2), error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
same_bytes(const guint8 *a, const guint8 *b)
{
	return a != NULL && b != NULL && memcmp(a, b, OSTREE_SHA256_DIGEST_LEN) == 0;
}

/* The base's dirtree @base_tree, or NULL if it is not there (a base that is not complete after
 * all: then no shortcut). */
static GVariant *
load_base_tree(Walk *w, const guint8 *base_tree)
{
	char hex[OSTREE_SHA256_STRING_LEN + 1];
	GVariant *v = NULL;

	if (base_tree == NULL)
		return NULL;
	ostree_checksum_inplace_from_bytes(base_tree, hex);
	(void)ostree_repo_load_variant(w->repo, OSTREE_OBJECT_TYPE_DIR_TREE, hex, &v, NULL);
	return v;
}

/* The subtree @tree (with its dirmeta @meta) against the base's subtree at the same path, if
 * there is one (@base_tree, @base_meta). */
static gboolean
walk_tree(Walk *w, const guint8 *tree, const guint8 *meta, const guint8 *base_tree,
	const guint8 *base_meta, GError **error)
{
	char tree_hex[OSTREE_SHA256_STRING_LEN + 1], meta_hex[OSTREE_SHA256_STRING_LEN + 1];
	g_autoptr(GVariant) tree_v = NULL, base_tree_v = NULL;
	g_autoptr(GVariant) files = NULL, dirs = NULL, base_files = NULL, base_dirs = NULL;

	if (tree == NULL || meta == NULL)
		return missing(OSTREE_OBJECT_TYPE_DIR_TREE, "(malformed checksum)", error);
	ostree_checksum_inplace_from_bytes(tree, tree_hex);
	ostree_checksum_inplace_from_bytes(meta, meta_hex);
	if (!same_bytes(meta, base_meta) &&
		!require_object(w, OSTREE_OBJECT_TYPE_DIR_META, meta_hex, error))
		return FALSE;
	if (same_bytes(tree, base_tree) || g_hash_table_contains(w->walked, tree_hex))
		return TRUE;
	if (!load_object(w, OSTREE_OBJECT_TYPE_DIR_TREE, tree_hex, &tree_v, error))
		return FALSE;
	base_tree_v = load_base_tree(w, base_tree);
	files = g_variant_get_child_value(tree_v, 0);
	dirs = g_variant_get_child_value(tree_v, 1);
	if (base_tree_v != NULL) {
		base_files = g_variant_get_child_value(base_tree_v, 0);
		base_dirs = g_variant_get_child_value(base_tree_v, 1);
	}
	if (!walk_files(w, files, base_files, error) || !walk_dirs(w, dirs, base_dirs, error))
		return FALSE;
	g_hash_table_add(w->walked, g_strdup(tree_hex));
	return !g_cancellable_set_error_if_cancelled(w->cancellable, error);
}

gboolean
ostick_commit_check_complete(OstreeRepo *repo, const char *commit, const char *base,
	GCancellable *cancellable, GError **error)
{
	g_autoptr(GHashTable) walked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	Walk w = {repo, walked, cancellable};
	g_autoptr(GVariant) commit_v = NULL, base_v = NULL;

	if (!load_object(&w, OSTREE_OBJECT_TYPE_COMMIT, commit, &commit_v, error))
		return FALSE;
	if (base != NULL)
		(void)ostree_repo_load_variant(
			repo, OSTREE_OBJECT_TYPE_COMMIT, base, &base_v, NULL);
	/* A commit's root: its dirtree (child 6) and dirmeta (child 7) checksums. */
	return walk_tree(&w, child_csum(commit_v, 6), child_csum(commit_v, 7),
		base_v == NULL ? NULL : child_csum(base_v, 6),
		base_v == NULL ? NULL : child_csum(base_v, 7), error);
}
