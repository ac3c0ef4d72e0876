/* testlib.h: fixtures shared by the unit tests: paths, test keys, real OSTree repos and deltas
 * built with libostree, bundle files. */
#pragma once

#include "ostick-sign.h"

#include <gio/gio.h>
#include <ostree.h>

G_BEGIN_DECLS

/* g_test_init() with isolated directories, minus libostree's debug chatter. */
void testlib_init(int *argc, char ***argv);

/* @rel below the source tree (OSTICK_SRCDIR, or the tree the test was built from). (transfer full) */
char *testlib_src_path(const char *rel);

/* A key from tests/data/keys/, e.g. "test-ed25519.key.pem". (transfer full) */
EVP_PKEY *testlib_load_private_key(const char *name);
EVP_PKEY *testlib_load_public_key(const char *name);
/* A keyring holding exactly the given public key files of tests/data/keys/ (NULL-terminated). */
OstickKeyring *testlib_keyring(const char *first, ...) G_GNUC_NULL_TERMINATED;

/* The whole of @path. (transfer full) */
GBytes *testlib_read_file(const char *path);

/* Creates an archive-mode repo in @dir/repo and commits two small trees on ref "test/ref":
 * v1, then v2 (some files changed, one added, one removed). Checksums out. (transfer full) */
OstreeRepo *testlib_make_repo(const char *dir, char **out_v1, char **out_v2);

/* A GTest fixture: a temporary directory holding testlib_make_repo()'s repo, removed after. */
typedef struct {
	char *tmpdir;
	OstreeRepo *repo;
	char *v1;
	char *v2;
} TestlibRepoFixture;
void testlib_repo_fixture_setup(TestlibRepoFixture *f, gconstpointer data);
void testlib_repo_fixture_teardown(TestlibRepoFixture *f, gconstpointer data);

/* Generates the delta @from (NULL: scratch) -> @to with separate parts into @dir (created),
 * as the bundler does. */
void testlib_generate_delta(
	OstreeRepo *repo, const char *from, const char *to, const char *dir, guint max_chunk_mb);

/* Members of a tar file, in order: names and contents. (transfer full) */
typedef struct {
	GPtrArray *names; /* char * */
	GPtrArray *datas; /* GBytes * */
} TestlibTar;
TestlibTar *testlib_tar_read(GBytes *tar);
void testlib_tar_free(TestlibTar *tar);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TestlibTar, testlib_tar_free)
/* A ustar archive of the given members (as the bundle writer makes them). (transfer full) */
GBytes *testlib_tar_write(const TestlibTar *tar);

/* Writes @data to a new temporary file and returns an fd open for reading at offset 0. */
int testlib_fd_from_bytes(GBytes *data);

G_END_DECLS
