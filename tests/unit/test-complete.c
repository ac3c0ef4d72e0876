/* test-complete.c: libostick/complete.c's completeness walk, on a real archive repo with two
 * commits (testlib_make_repo: v2 shares the kernel with v1 at the same path, changes the app
 * and the notes), objects deleted one at a time. */
#include "policy.h"

#include "testlib.h"

#include <string.h>
#include <unistd.h>

#define NOT_THERE "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef TestlibRepoFixture Fixture;

/* The checksum of @path in @commit: its content object, or for a directory its dirtree. */
static char *
checksum_at(Fixture *f, const char *commit, const char *path, OstreeObjectType *out_type)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GFile) root = NULL;
	g_autoptr(GFile) file = NULL;
	OstreeRepoFile *repo_file;

	g_assert_true(ostree_repo_read_commit(f->repo, commit, &root, NULL, NULL, &error));
	g_assert_no_error(error);
	file = g_file_resolve_relative_path(root, path);
	repo_file = OSTREE_REPO_FILE(file);
	g_assert_true(ostree_repo_file_ensure_resolved(repo_file, &error));
	g_assert_no_error(error);
	if (g_file_query_file_type(file, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL) ==
		G_FILE_TYPE_DIRECTORY) {
		*out_type = OSTREE_OBJECT_TYPE_DIR_TREE;
		return g_strdup(ostree_repo_file_tree_get_contents_checksum(repo_file));
	}
	*out_type = OSTREE_OBJECT_TYPE_FILE;
	return g_strdup(ostree_repo_file_get_checksum(repo_file));
}

/* Deletes the object at @path in @commit; returns its checksum. */
static char *
delete_object(Fixture *f, const char *commit, const char *path)
{
	OstreeObjectType type;
	char *checksum = checksum_at(f, commit, path, &type);
	/* an archive repo: content objects are .filez */
	const char *suffix = type == OSTREE_OBJECT_TYPE_FILE ? "filez" : "dirtree";
	g_autofree char *repo_path = g_file_get_path(ostree_repo_get_path(f->repo));
	g_autofree char *object =
		g_strdup_printf("%s/objects/%.2s/%s.%s", repo_path, checksum, checksum + 2, suffix);

	g_assert_cmpint(unlink(object), ==, 0);
	return checksum;
}

static void
assert_missing(Fixture *f, const char *base, const char *checksum)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(ostick_commit_check_complete(f->repo, f->v2, base, NULL, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, checksum));
}

static void
assert_complete(Fixture *f, const char *commit, const char *base)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ostick_commit_check_complete(f->repo, commit, base, NULL, &error));
	g_assert_no_error(error);
}

static void
test_complete(Fixture *f, gconstpointer data)
{
	assert_complete(f, f->v2, NULL);
	assert_complete(f, f->v2, f->v1);
	assert_complete(f, f->v1, f->v2); /* the other way round */
	assert_complete(f, f->v2, f->v2); /* against itself: nothing to walk */
	assert_complete(f, f->v2, NOT_THERE);
}

/* A file the target changed is looked up, with the base or without. */
static void
test_changed_file(Fixture *f, gconstpointer data)
{
	g_autofree char *app = delete_object(f, f->v2, "usr/bin/app");

	assert_missing(f, NULL, app);
	assert_missing(f, f->v1, app);
	assert_complete(f, f->v1, NULL); /* v1's own app is another object */
}

/* A file the target shares with the base at the same path is the base's: only a walk without
 * a base looks it up (a base is complete by the install's checks). */
static void
test_shared_file(Fixture *f, gconstpointer data)
{
	g_autofree char *kernel = delete_object(f, f->v2, "usr/lib/modules/6.1.0-test/vmlinuz");

	assert_missing(f, NULL, kernel);
	assert_complete(f, f->v2, f->v1);
	/* a base that is not in the repo gives no shortcut */
	assert_missing(f, NOT_THERE, kernel);
}

/* A dirtree the target changed (usr/share: new notes, a file added and one removed). */
static void
test_changed_dirtree(Fixture *f, gconstpointer data)
{
	g_autofree char *share = delete_object(f, f->v2, "usr/share");

	assert_missing(f, NULL, share);
	assert_missing(f, f->v1, share);
}

/* The shortcut needs the base's dirtree: with v1's usr gone, nothing below usr has a base, so
 * the kernel (shared, in usr/lib) is looked up again. */
static void
test_base_tree_gone(Fixture *f, gconstpointer data)
{
	OstreeObjectType type;
	g_autofree char *usr_v2 = checksum_at(f, f->v2, "usr", &type);
	g_autofree char *usr_v1 = delete_object(f, f->v1, "usr");
	g_autofree char *kernel = delete_object(f, f->v2, "usr/lib/modules/6.1.0-test/vmlinuz");

	g_assert_cmpstr(usr_v1, !=, usr_v2);
	assert_missing(f, f->v1, kernel);
}

static void
test_commit_missing(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(ostick_commit_check_complete(f->repo, NOT_THERE, f->v1, NULL, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, NOT_THERE ".commit is missing"));
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
#define ADD(path, func)                                                                            \
	g_test_add(path, Fixture, NULL, testlib_repo_fixture_setup, func,                          \
		testlib_repo_fixture_teardown)
	ADD("/complete/complete", test_complete);
	ADD("/complete/changed-file", test_changed_file);
	ADD("/complete/shared-file", test_shared_file);
	ADD("/complete/changed-dirtree", test_changed_dirtree);
	ADD("/complete/base-tree-gone", test_base_tree_gone);
	ADD("/complete/commit-missing", test_commit_missing);
	return g_test_run();
}
