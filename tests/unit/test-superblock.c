/* test-superblock.c: superblock parsing, checks against the manifest, and one-part layout
 * (byte-equal to GLib's serializer, and executable by libostree object for object). */
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "ostick-hash.h"
#include "ostick-superblock.h"
#include "testlib.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

typedef TestlibRepoFixture Fixture;

static char *
delta_dir(Fixture *f, const char *name, const char *from, const char *to, guint chunk_mb)
{
	char *dir = g_build_filename(f->tmpdir, name, NULL);

	testlib_generate_delta(f->repo, from, to, dir, chunk_mb);
	return dir;
}

static OstickSuperblock *
load_superblock(const char *dir, GBytes **out_bytes)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = g_build_filename(dir, "superblock", NULL);
	g_autoptr(GBytes) bytes = testlib_read_file(path);
	OstickSuperblock *sb = ostick_superblock_parse(bytes, &error);

	g_assert_no_error(error);
	if (out_bytes != NULL)
		*out_bytes = g_bytes_ref(bytes);
	return sb;
}

static void
test_parse_delta(Fixture *f, gconstpointer data)
{
	g_autofree char *dir = delta_dir(f, "d12", f->v1, f->v2, 32);
	g_autoptr(OstickSuperblock) sb = load_superblock(dir, NULL);

	g_assert_cmpstr(ostick_superblock_get_from(sb), ==, f->v1);
	g_assert_cmpstr(ostick_superblock_get_to(sb), ==, f->v2);
	g_assert_cmpuint(ostick_superblock_get_n_parts(sb), >=, 1);
	for (guint i = 0; i < ostick_superblock_get_n_parts(sb); i++) {
		g_autofree char *name = g_strdup_printf("%s/%u", dir, i);
		g_autoptr(GBytes) part = testlib_read_file(name);
		char sha[OSTICK_SHA256_HEX_LEN + 1];
		OstickDeltaPartInfo info;

		ostick_superblock_get_part(sb, i, &info);
		ostick_sha256_hex(g_bytes_get_data(part, NULL), g_bytes_get_size(part), sha);
		g_assert_cmpuint(info.size, ==, g_bytes_get_size(part));
		g_assert_cmpstr(info.checksum, ==, sha);
		g_assert_cmpuint(info.n_objects, >, 0);
	}
}

static void
test_parse_scratch(Fixture *f, gconstpointer data)
{
	g_autofree char *dir = delta_dir(f, "d02", NULL, f->v2, 32);
	g_autoptr(OstickSuperblock) sb = load_superblock(dir, NULL);

	g_assert_null(ostick_superblock_get_from(sb));
	g_assert_cmpstr(ostick_superblock_get_to(sb), ==, f->v2);
}

static void
test_parse_truncated(Fixture *f, gconstpointer data)
{
	g_autofree char *dir = delta_dir(f, "d02", NULL, f->v2, 32);
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(OstickSuperblock) sb = load_superblock(dir, &bytes);
	gsize len = g_bytes_get_size(bytes);

	/* Every proper prefix is either not in normal form or structurally wrong. */
	for (gsize cut = 0; cut < len; cut++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) prefix = g_bytes_new_from_bytes(bytes, 0, cut);
		g_autoptr(OstickSuperblock) bad = ostick_superblock_parse(prefix, &error);

		g_assert_null(bad);
		g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_FORMAT);
	}
}

static void
test_part_key_matches_libostree(Fixture *f, gconstpointer data)
{
	const char *froms[] = {NULL, f->v1};

	for (guint k = 0; k < G_N_ELEMENTS(froms); k++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *dir = g_build_filename(f->tmpdir, "inline", NULL);
		g_autofree char *path = g_build_filename(dir, "superblock", NULL);
		g_autofree char *key = ostick_delta_part_key(froms[k], f->v2, 0);
		g_autoptr(GVariant) sb = NULL;
		g_autoptr(GVariant) meta = NULL;
		g_autoptr(GVariant) part = NULL;
		g_auto(GVariantBuilder) params;

		g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
		g_variant_builder_init(&params, G_VARIANT_TYPE_VARDICT);
		g_variant_builder_add(
			&params, "{sv}", "min-fallback-size", g_variant_new_uint32(0));
		g_variant_builder_add(&params, "{sv}", "inline-parts", g_variant_new_boolean(TRUE));
		g_variant_builder_add(&params, "{sv}", "filename", g_variant_new_bytestring(path));
		g_assert_true(ostree_repo_static_delta_generate(f->repo,
			OSTREE_STATIC_DELTA_GENERATE_OPT_MAJOR, froms[k], f->v2, NULL,
			g_variant_builder_end(&params), NULL, &error));
		g_assert_no_error(error);
		sb = g_variant_ref_sink(
			g_variant_new_from_bytes(G_VARIANT_TYPE(OSTICK_SUPERBLOCK_TYPE_STRING),
				testlib_read_file(path), FALSE));
		meta = g_variant_get_child_value(sb, 0);
		part = g_variant_lookup_value(meta, key, G_VARIANT_TYPE("(yay)"));
		g_assert_nonnull(part);
		(void)ostick_rm_rf(dir, NULL);
	}
}

/* The one-part superblock as GLib itself would serialize it. */
static GBytes *
reference_single_part(GBytes *original, guint index, const guint8 *yay, gsize yay_len)
{
	g_autoptr(GVariant) sb = g_variant_ref_sink(g_variant_new_from_bytes(
		G_VARIANT_TYPE(OSTICK_SUPERBLOCK_TYPE_STRING), original, FALSE));
	g_autoptr(GVariant) meta = g_variant_get_child_value(sb, 0);
	g_autoptr(GVariant) to_v = g_variant_get_child_value(sb, 3);
	g_autoptr(GVariant) from_v = g_variant_get_child_value(sb, 2);
	g_autoptr(GVariant) headers = g_variant_get_child_value(sb, 6);
	g_autoptr(GVariant) header = g_variant_get_child_value(headers, index);
	g_autofree char *to = ostree_checksum_from_bytes_v(to_v);
	g_autofree char *from =
		g_variant_n_children(from_v) ? ostree_checksum_from_bytes_v(from_v) : NULL;
	g_autofree char *key = ostick_delta_part_key(from, to, 0);
	GVariantBuilder builder;
	GVariant *children[8];
	GVariantIter iter;
	GVariant *entry;
	g_autoptr(GVariant) result = NULL;

	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
	g_variant_iter_init(&iter, meta);
	while ((entry = g_variant_iter_next_value(&iter)) != NULL) {
		g_variant_builder_add_value(&builder, entry);
		g_variant_unref(entry);
	}
	g_variant_builder_add(&builder, "{sv}", key,
		g_variant_new("(y@ay)", yay[0],
			g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, yay + 1, yay_len - 1, 1)));
	children[0] = g_variant_builder_end(&builder);
	for (guint i = 1; i <= 5; i++)
		children[i] = g_variant_get_child_value(sb, i);
	children[6] = g_variant_new_array(G_VARIANT_TYPE("(uayttay)"), &header, 1);
	children[7] = g_variant_new_array(G_VARIANT_TYPE("(yaytt)"), NULL, 0);
	result = g_variant_ref_sink(g_variant_new_tuple(children, 8));
	for (guint i = 1; i <= 5; i++)
		g_variant_unref(children[i]);
	return g_variant_get_data_as_bytes(result);
}

static GBytes *
concat(GBytes *a, const guint8 *middle, gsize middle_len, GBytes *b)
{
	GByteArray *all = g_byte_array_new();

	g_byte_array_append(all, g_bytes_get_data(a, NULL), (guint)g_bytes_get_size(a));
	g_byte_array_append(all, middle, (guint)middle_len);
	g_byte_array_append(all, g_bytes_get_data(b, NULL), (guint)g_bytes_get_size(b));
	return g_byte_array_free_to_bytes(all);
}

static void
test_layout_matches_glib(Fixture *f, gconstpointer data)
{
	/* Sizes around every framing-offset width boundary (1, 2 and 4 bytes). */
	static const gsize sizes[] = {
		1, 2, 100, 180, 200, 230, 255, 256, 300, 65000, 65300, 65535, 65536, 70000, 300000};
	const char *froms[] = {NULL, f->v1};

	for (guint k = 0; k < G_N_ELEMENTS(froms); k++) {
		g_autofree char *dir = delta_dir(f, k ? "d12" : "d02", froms[k], f->v2, 32);
		g_autoptr(GBytes) original = NULL;
		g_autoptr(OstickSuperblock) sb = load_superblock(dir, &original);

		for (guint s = 0; s < G_N_ELEMENTS(sizes); s++) {
			g_autofree guint8 *yay = g_malloc(sizes[s]);
			g_autoptr(GBytes) prefix = NULL, suffix = NULL, ours = NULL, glib = NULL;
			g_autoptr(GVariant) check = NULL;

			for (gsize i = 0; i < sizes[s]; i++)
				yay[i] = (guint8)(i * 7 + s);
			ostick_superblock_layout_single_part(sb, 0, sizes[s], &prefix, &suffix);
			ours = concat(prefix, yay, sizes[s], suffix);
			glib = reference_single_part(original, 0, yay, sizes[s]);
			g_assert_cmpmem(g_bytes_get_data(ours, NULL), g_bytes_get_size(ours),
				g_bytes_get_data(glib, NULL), g_bytes_get_size(glib));
			check = g_variant_ref_sink(g_variant_new_from_bytes(
				G_VARIANT_TYPE(OSTICK_SUPERBLOCK_TYPE_STRING), ours, FALSE));
			g_assert_true(g_variant_is_normal_form(check));
		}
	}
}

/* Runs every part of the delta in @dir through libostree, one-part superblock by one-part
 * superblock, as the applier does. */
static void
apply_part_by_part(OstreeRepo *repo, const char *dir)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OstickSuperblock) sb = load_superblock(dir, NULL);

	g_assert_true(ostree_repo_prepare_transaction(repo, NULL, NULL, &error));
	for (guint i = 0; i < ostick_superblock_get_n_parts(sb); i++) {
		g_autofree char *name = g_strdup_printf("%s/%u", dir, i);
		g_autoptr(GBytes) part = testlib_read_file(name);
		g_autoptr(GBytes) prefix = NULL, suffix = NULL, file = NULL;
		g_auto(OstickFd) fd = -1;
		g_autofree char *proc = NULL;
		g_autoptr(GFile) gfile = NULL;

		ostick_superblock_layout_single_part(
			sb, i, g_bytes_get_size(part), &prefix, &suffix);
		file = concat(prefix, g_bytes_get_data(part, NULL), g_bytes_get_size(part), suffix);
		fd = testlib_fd_from_bytes(file);
		proc = g_strdup_printf("/proc/self/fd/%d", fd);
		gfile = g_file_new_for_path(proc);
		g_assert_true(
			ostree_repo_static_delta_execute_offline(repo, gfile, FALSE, NULL, &error));
		g_assert_no_error(error);
	}
	g_assert_true(ostree_repo_commit_transaction(repo, NULL, NULL, &error));
	g_assert_no_error(error);
}

static OstreeRepo *
new_bare_user_repo(Fixture *f, const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = g_build_filename(f->tmpdir, name, NULL);
	g_autoptr(GFile) dir = g_file_new_for_path(path);
	OstreeRepo *repo = ostree_repo_new(dir);

	g_assert_true(ostree_repo_create(repo, OSTREE_REPO_MODE_BARE_USER_ONLY, NULL, &error));
	g_assert_no_error(error);
	return repo;
}

static GHashTable *
object_set(OstreeRepo *repo)
{
	g_autoptr(GError) error = NULL;
	GHashTable *objects = NULL;

	g_assert_true(ostree_repo_list_objects(
		repo, OSTREE_REPO_LIST_OBJECTS_ALL, &objects, NULL, &error));
	g_assert_no_error(error);
	return objects;
}

static void
assert_same_objects(OstreeRepo *a, OstreeRepo *b)
{
	g_autoptr(GHashTable) objects_a = object_set(a);
	g_autoptr(GHashTable) objects_b = object_set(b);
	GHashTableIter iter;
	gpointer key;

	g_assert_cmpuint(g_hash_table_size(objects_a), ==, g_hash_table_size(objects_b));
	g_hash_table_iter_init(&iter, objects_a);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_assert_true(g_hash_table_contains(objects_b, key));
}

static void
test_layout_executes_like_whole_delta(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	/* 1 MB parts: several parts, so that per-part application is really exercised. */
	g_autofree char *scratch = delta_dir(f, "d01", NULL, f->v1, 1);
	g_autofree char *delta = delta_dir(f, "d12", f->v1, f->v2, 1);
	g_autoptr(OstreeRepo) ours = new_bare_user_repo(f, "ours");
	g_autoptr(OstreeRepo) stock = new_bare_user_repo(f, "stock");
	g_autoptr(GFile) scratch_dir = g_file_new_for_path(scratch);
	g_autoptr(GFile) delta_gdir = g_file_new_for_path(delta);
	g_autoptr(GHashTable) reachable = NULL;

	apply_part_by_part(ours, scratch);
	apply_part_by_part(ours, delta);
	g_assert_true(ostree_repo_prepare_transaction(stock, NULL, NULL, &error));
	g_assert_true(
		ostree_repo_static_delta_execute_offline(stock, scratch_dir, FALSE, NULL, &error));
	g_assert_true(
		ostree_repo_static_delta_execute_offline(stock, delta_gdir, FALSE, NULL, &error));
	g_assert_true(ostree_repo_commit_transaction(stock, NULL, NULL, &error));
	g_assert_no_error(error);
	assert_same_objects(ours, stock);
	/* Complete: traversal loads every object of v2. */
	g_assert_true(ostree_repo_traverse_commit(ours, f->v2, 0, &reachable, NULL, &error));
	g_assert_no_error(error);
}

/* Applies part @index of the delta in @dir the way the applier streams zstd parts: a superblock
 * from ostick_superblock_build_streamed() naming the part file as /proc/self/fd/N. @checksum
 * (NULL: the part file's own) goes into its header. */
static gboolean
execute_streamed(OstreeRepo *repo, const char *dir, OstickSuperblock *sb, guint index,
	const guint8 *checksum, GError **error)
{
	g_autofree char *name = g_strdup_printf("%s/%u", dir, index);
	g_autoptr(GBytes) part = testlib_read_file(name);
	g_auto(OstickFd) part_fd = open(name, O_RDONLY | O_CLOEXEC);
	guint8 own[OSTICK_SHA256_LEN];
	g_autoptr(GBytes) superblock = NULL;
	g_auto(OstickFd) sb_fd = -1;
	g_autofree char *proc = NULL;
	g_autoptr(GFile) file = NULL;

	g_assert_cmpint(part_fd, >=, 0);
	ostick_sha256(g_bytes_get_data(part, NULL), g_bytes_get_size(part), own);
	superblock = ostick_superblock_build_streamed(
		sb, index, (guint)part_fd, checksum ?: own, g_bytes_get_size(part));
	sb_fd = testlib_fd_from_bytes(superblock);
	proc = g_strdup_printf("/proc/self/fd/%d", sb_fd);
	file = g_file_new_for_path(proc);
	return ostree_repo_static_delta_execute_offline(repo, file, FALSE, NULL, error);
}

/* The streamed superblock: the original's metadata and commit, @position empty headers, then
 * the part's own header with the new size and checksum; no fallbacks; GLib's normal form. */
static void
test_streamed_layout(Fixture *f, gconstpointer data)
{
	g_autofree char *dir = delta_dir(f, "d12", f->v1, f->v2, 32);
	g_autoptr(GBytes) original_bytes = NULL;
	g_autoptr(OstickSuperblock) sb = load_superblock(dir, &original_bytes);
	g_autoptr(GVariant) original = g_variant_ref_sink(g_variant_new_from_bytes(
		G_VARIANT_TYPE(OSTICK_SUPERBLOCK_TYPE_STRING), original_bytes, FALSE));
	guint8 checksum[OSTICK_SHA256_LEN];

	memset(checksum, 0xa5, sizeof checksum);
	for (guint position = 0; position < 40; position += 13) {
		g_autoptr(GBytes) bytes =
			ostick_superblock_build_streamed(sb, 0, position, checksum, 123456789);
		g_autoptr(GVariant) built = g_variant_ref_sink(g_variant_new_from_bytes(
			G_VARIANT_TYPE(OSTICK_SUPERBLOCK_TYPE_STRING), bytes, FALSE));
		g_autoptr(GVariant) headers = g_variant_get_child_value(built, 6);
		g_autoptr(GVariant) fallback = g_variant_get_child_value(built, 7);
		g_autoptr(GVariant) ours = NULL, theirs = NULL, csum = NULL, objects = NULL;
		g_autoptr(GVariant) their_headers = NULL;
		g_autoptr(GVariant) their_objects = NULL;
		guint32 version, their_version;
		guint64 size, usize, their_size, their_usize;

		g_assert_true(g_variant_is_normal_form(built));
		for (guint m = 0; m < 6; m++) {
			g_autoptr(GVariant) a = g_variant_get_child_value(built, m);
			g_autoptr(GVariant) b = g_variant_get_child_value(original, m);

			g_assert_true(g_variant_equal(a, b));
		}
		g_assert_cmpuint(g_variant_n_children(fallback), ==, 0);
		g_assert_cmpuint(g_variant_n_children(headers), ==, position + 1);
		for (guint i = 0; i < position; i++) {
			g_autoptr(GVariant) empty = g_variant_get_child_value(headers, i);
			g_autoptr(GVariant) empty_objects = g_variant_get_child_value(empty, 4);

			g_assert_cmpuint(g_variant_n_children(empty_objects), ==, 0);
		}
		ours = g_variant_get_child_value(headers, position);
		g_variant_get(ours, "(u@aytt@ay)", &version, &csum, &size, &usize, &objects);
		their_headers = g_variant_get_child_value(original, 6);
		theirs = g_variant_get_child_value(their_headers, 0);
		g_variant_get(theirs, "(u@aytt@ay)", &their_version, NULL, &their_size,
			&their_usize, &their_objects);
		g_assert_cmpuint(version, ==, their_version);
		g_assert_cmpuint(usize, ==, their_usize);
		g_assert_true(g_variant_equal(objects, their_objects));
		g_assert_cmpmem(g_variant_get_data(csum), g_variant_get_size(csum), checksum,
			sizeof checksum);
		g_assert_cmpuint(GUINT64_FROM_LE(size), ==, 123456789);
	}
}

/* libostree opens the named file and applies it, part by part, to the same objects as the
 * whole delta; a checksum that is not the file's is refused. */
static void
test_streamed_executes_like_whole_delta(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *scratch = delta_dir(f, "d01", NULL, f->v1, 1);
	g_autofree char *delta = delta_dir(f, "d12", f->v1, f->v2, 1);
	const char *dirs[] = {scratch, delta};
	g_autoptr(OstreeRepo) ours = new_bare_user_repo(f, "ours");
	g_autoptr(OstreeRepo) stock = new_bare_user_repo(f, "stock");
	g_autoptr(OstreeRepo) refused = new_bare_user_repo(f, "refused");
	g_autoptr(OstickSuperblock) scratch_sb = load_superblock(scratch, NULL);
	guint8 wrong[OSTICK_SHA256_LEN] = {0};

	for (guint d = 0; d < G_N_ELEMENTS(dirs); d++) {
		g_autoptr(OstickSuperblock) sb = load_superblock(dirs[d], NULL);
		g_autoptr(GFile) whole = g_file_new_for_path(dirs[d]);

		g_assert_true(ostree_repo_prepare_transaction(ours, NULL, NULL, &error));
		for (guint i = 0; i < ostick_superblock_get_n_parts(sb); i++) {
			g_assert_true(execute_streamed(ours, dirs[d], sb, i, NULL, &error));
			g_assert_no_error(error);
		}
		g_assert_true(ostree_repo_commit_transaction(ours, NULL, NULL, &error));
		g_assert_true(ostree_repo_prepare_transaction(stock, NULL, NULL, &error));
		g_assert_true(ostree_repo_static_delta_execute_offline(
			stock, whole, FALSE, NULL, &error));
		g_assert_true(ostree_repo_commit_transaction(stock, NULL, NULL, &error));
		g_assert_no_error(error);
	}
	assert_same_objects(ours, stock);

	g_assert_true(ostree_repo_prepare_transaction(refused, NULL, NULL, &error));
	g_assert_false(execute_streamed(refused, scratch, scratch_sb, 0, wrong, &error));
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "Checksum mismatch"));
	(void)ostree_repo_abort_transaction(refused, NULL, NULL);
}

static void
test_set_timestamp(Fixture *f, gconstpointer data)
{
	g_autofree char *dir = delta_dir(f, "d12", f->v1, f->v2, 32);
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(OstickSuperblock) sb = load_superblock(dir, &bytes);
	gsize len = g_bytes_get_size(bytes);
	g_autofree guint8 *copy = g_memdup2(g_bytes_get_data(bytes, NULL), len);
	g_autoptr(GBytes) view = NULL;
	g_autoptr(GVariant) v = NULL;
	guint64 ts = 0;

	ostick_superblock_set_timestamp(copy, len, 1234567890);
	view = g_bytes_new_static(copy, len);
	v = g_variant_ref_sink(g_variant_new_from_bytes(
		G_VARIANT_TYPE(OSTICK_SUPERBLOCK_TYPE_STRING), view, FALSE));
	g_assert_true(g_variant_is_normal_form(v));
	g_variant_get_child(v, 1, "t", &ts);
	g_assert_cmpuint(GUINT64_FROM_BE(ts), ==, 1234567890);
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
#define ADD(path, func)                                                                            \
	g_test_add(path, Fixture, NULL, testlib_repo_fixture_setup, func,                          \
		testlib_repo_fixture_teardown)
	ADD("/superblock/parse/delta", test_parse_delta);
	ADD("/superblock/parse/scratch", test_parse_scratch);
	ADD("/superblock/parse/truncated", test_parse_truncated);
	ADD("/superblock/part-key/matches-libostree", test_part_key_matches_libostree);
	ADD("/superblock/layout/matches-glib", test_layout_matches_glib);
	ADD("/superblock/layout/executes-like-whole-delta", test_layout_executes_like_whole_delta);
	ADD("/superblock/streamed/layout", test_streamed_layout);
	ADD("/superblock/streamed/executes-like-whole-delta",
		test_streamed_executes_like_whole_delta);
	ADD("/superblock/set-timestamp", test_set_timestamp);
#undef ADD
	return g_test_run();
}
