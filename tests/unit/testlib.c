/* testlib.c: unit-test fixtures. Failures abort the test (g_assert), with a message. */
#include "testlib.h"

#include "ostick-bundle-writer.h"
#include "ostick-cleanup.h"
#include "ostick-file.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <unistd.h>

void
testlib_init(int *argc, char ***argv)
{
	g_test_init(argc, argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	g_log_set_debug_enabled(FALSE);
}

char *
testlib_src_path(const char *rel)
{
	const char *src = g_getenv("OSTICK_SRCDIR");

	return g_build_filename(src ? src : OSTICK_TEST_SRCDIR, rel, NULL);
}

static char *
key_path(const char *name)
{
	g_autofree char *rel = g_build_filename("tests/data/keys", name, NULL);

	return testlib_src_path(rel);
}

EVP_PKEY *
testlib_load_private_key(const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = key_path(name);
	EVP_PKEY *key = ostick_key_load_private(path, &error);

	g_assert_no_error(error);
	return key;
}

EVP_PKEY *
testlib_load_public_key(const char *name)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = key_path(name);
	EVP_PKEY *key = ostick_key_load_public(path, &error);

	g_assert_no_error(error);
	return key;
}

OstickKeyring *
testlib_keyring(const char *first, ...)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("keyring-XXXXXX", &error);
	OstickKeyring *keyring;
	va_list args;

	g_assert_no_error(error);
	va_start(args, first);
	for (const char *name = first; name != NULL; name = va_arg(args, const char *)) {
		g_autofree char *src = key_path(name);
		g_autofree char *dst = g_build_filename(dir, name, NULL);
		g_autofree char *contents = NULL;
		gsize len = 0;

		g_assert_true(g_file_get_contents(src, &contents, &len, NULL));
		g_assert_true(g_file_set_contents(dst, contents, (gssize)len, NULL));
	}
	va_end(args);
	keyring = ostick_keyring_load(dir, &error);
	g_assert_no_error(error);
	return keyring;
}

GBytes *
testlib_read_file(const char *path)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *contents = NULL;
	gsize len = 0;

	g_file_get_contents(path, &contents, &len, &error);
	g_assert_no_error(error);
	return g_bytes_new_take(g_steal_pointer(&contents), len);
}

static void
write_file(const char *dir, const char *rel, const char *contents, gssize len)
{
	g_autofree char *path = g_build_filename(dir, rel, NULL);
	g_autofree char *parent = g_path_get_dirname(path);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(g_mkdir_with_parents(parent, 0755), ==, 0);
	g_file_set_contents(path, contents, len, &error);
	g_assert_no_error(error);
}

/* Pseudo-random but reproducible content, so xz cannot shrink it to nothing. */
static char *
noise(guint32 seed, gsize len)
{
	GRand *rand = g_rand_new_with_seed(seed);
	char *buf = g_malloc(len);

	for (gsize i = 0; i < len; i++)
		buf[i] = (char)g_rand_int_range(rand, 0, 256);
	g_rand_free(rand);
	return buf;
}

static void
write_tree(const char *dir, guint version)
{
	g_autofree char *kernel = noise(1, 200000);
	g_autofree char *app = noise(100 + version, 70000);
	g_autofree char *notes = g_strdup_printf("version %u\n", version);

	write_file(dir, "usr/lib/modules/6.1.0-test/vmlinuz", kernel, 200000);
	write_file(dir, "usr/lib/modules/6.1.0-test/initramfs.img", "initramfs", -1);
	write_file(dir, "usr/lib/os-release", "ID=testos\nVERSION_ID=1\n", -1);
	write_file(dir, "usr/etc/hostname", "test\n", -1);
	write_file(dir, "usr/bin/app", app, 70000);
	write_file(dir, "usr/share/notes", notes, -1);
	if (version == 1)
		write_file(dir, "usr/share/removed-in-v2", "old\n", -1);
	else
		write_file(dir, "usr/share/added-in-v2", "new\n", -1);
}

static char *
commit_tree(OstreeRepo *repo, const char *dir, const char *parent, guint64 timestamp)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OstreeMutableTree) mtree = ostree_mutable_tree_new();
	g_autoptr(OstreeRepoCommitModifier) modifier = ostree_repo_commit_modifier_new(
		OSTREE_REPO_COMMIT_MODIFIER_FLAGS_CANONICAL_PERMISSIONS, NULL, NULL, NULL);
	g_autoptr(GFile) root = NULL;
	char *checksum = NULL;

	g_assert_true(ostree_repo_prepare_transaction(repo, NULL, NULL, &error));
	g_assert_true(
		ostree_repo_write_dfd_to_mtree(repo, AT_FDCWD, dir, mtree, modifier, NULL, &error));
	g_assert_true(ostree_repo_write_mtree(repo, mtree, &root, NULL, &error));
	g_assert_true(ostree_repo_write_commit_with_time(repo, parent, "test", NULL, NULL,
		OSTREE_REPO_FILE(root), timestamp, &checksum, NULL, &error));
	ostree_repo_transaction_set_ref(repo, NULL, "test/ref", checksum);
	g_assert_true(ostree_repo_commit_transaction(repo, NULL, NULL, &error));
	g_assert_no_error(error);
	return checksum;
}

OstreeRepo *
testlib_make_repo(const char *dir, char **out_v1, char **out_v2)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *repo_path = g_build_filename(dir, "repo", NULL);
	g_autofree char *tree1 = g_build_filename(dir, "tree1", NULL);
	g_autofree char *tree2 = g_build_filename(dir, "tree2", NULL);
	g_autoptr(GFile) repo_dir = g_file_new_for_path(repo_path);
	g_autoptr(OstreeRepo) repo = ostree_repo_new(repo_dir);

	g_assert_true(ostree_repo_create(repo, OSTREE_REPO_MODE_ARCHIVE, NULL, &error));
	g_assert_no_error(error);
	write_tree(tree1, 1);
	write_tree(tree2, 2);
	*out_v1 = commit_tree(repo, tree1, NULL, 1700000000);
	*out_v2 = commit_tree(repo, tree2, *out_v1, 1700000100);
	return g_steal_pointer(&repo);
}

void
testlib_repo_fixture_setup(TestlibRepoFixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->tmpdir = g_dir_make_tmp("repo-XXXXXX", &error);
	g_assert_no_error(error);
	f->repo = testlib_make_repo(f->tmpdir, &f->v1, &f->v2);
}

void
testlib_repo_fixture_teardown(TestlibRepoFixture *f, gconstpointer data)
{
	(void)ostick_rm_rf(f->tmpdir, NULL);
	g_free(f->tmpdir);
	g_clear_object(&f->repo);
	g_free(f->v1);
	g_free(f->v2);
}

void
testlib_generate_delta(
	OstreeRepo *repo, const char *from, const char *to, const char *dir, guint max_chunk_mb)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *superblock = g_build_filename(dir, "superblock", NULL);
	g_auto(GVariantBuilder) params;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
	g_variant_builder_init(&params, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&params, "{sv}", "min-fallback-size", g_variant_new_uint32(0));
	g_variant_builder_add(
		&params, "{sv}", "max-chunk-size", g_variant_new_uint32(max_chunk_mb));
	g_variant_builder_add(&params, "{sv}", "inline-parts", g_variant_new_boolean(FALSE));
	g_variant_builder_add(&params, "{sv}", "filename", g_variant_new_bytestring(superblock));
	g_assert_true(
		ostree_repo_static_delta_generate(repo, OSTREE_STATIC_DELTA_GENERATE_OPT_MAJOR,
			from, to, NULL, g_variant_builder_end(&params), NULL, &error));
	g_assert_no_error(error);
}

TestlibTar *
testlib_tar_read(GBytes *tar)
{
	g_autoptr(OstickArchive) a = archive_read_new();
	TestlibTar *out = g_new0(TestlibTar, 1);
	struct archive_entry *entry;

	out->names = g_ptr_array_new_with_free_func(g_free);
	out->datas = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	archive_read_support_format_tar(a);
	g_assert_cmpint(
		archive_read_open_memory(a, g_bytes_get_data(tar, NULL), g_bytes_get_size(tar)), ==,
		ARCHIVE_OK);
	while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
		gsize size = (gsize)archive_entry_size(entry);
		guint8 *buf = g_malloc(MAX(size, 1));

		g_assert_cmpint(archive_read_data(a, buf, size), ==, (la_ssize_t)size);
		g_ptr_array_add(out->names, g_strdup(archive_entry_pathname(entry)));
		g_ptr_array_add(out->datas, g_bytes_new_take(buf, size));
	}
	return out;
}

void
testlib_tar_free(TestlibTar *tar)
{
	if (tar == NULL)
		return;
	g_ptr_array_unref(tar->names);
	g_ptr_array_unref(tar->datas);
	g_free(tar);
}

int
testlib_fd_from_bytes(GBytes *data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("bytes-XXXXXX", &path, &error);

	g_assert_no_error(error);
	g_assert_true(
		ostick_write_all(fd, g_bytes_get_data(data, NULL), g_bytes_get_size(data), &error));
	g_assert_no_error(error);
	g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
	(void)g_unlink(path);
	return fd;
}

GBytes *
testlib_tar_write(const TestlibTar *tar)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("tar-XXXXXX", &path, &error);
	g_autoptr(OstickBundleWriter) writer = ostick_bundle_writer_new(fd, 0, &error);
	GBytes *result;

	g_assert_no_error(error);
	for (guint i = 0; i < tar->names->len; i++) {
		g_assert_true(ostick_bundle_writer_add_bytes(
			writer, tar->names->pdata[i], tar->datas->pdata[i], &error));
	}
	g_assert_true(ostick_bundle_writer_close(writer, &error));
	g_assert_no_error(error);
	close(fd);
	result = testlib_read_file(path);
	(void)g_unlink(path);
	return result;
}
