/* test-prefetch.c: libostick/prefetch.c on a real archive repo (testlib_make_repo) and a
 * deployment-shaped directory: what it reads ahead, that the pages do reach the page cache,
 * its bound, and stopping it early. */
#include "prefetch.h"

#include "ostick-file.h"
#include "testlib.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
	TestlibRepoFixture repo;
	char *deployment;
	int repo_dfd;
	int deployment_dfd;
	guint metadata_objects; /* .dirtree and .dirmeta files in objects/ */
} Fixture;

static void
write_file(const char *dir, const char *rel, const char *contents)
{
	g_autofree char *path = g_build_filename(dir, rel, NULL);
	g_autofree char *parent = g_path_get_dirname(path);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(g_mkdir_with_parents(parent, 0755), ==, 0);
	g_assert_true(g_file_set_contents(path, contents, -1, &error));
	g_assert_no_error(error);
}

static guint
count_metadata_objects(const char *repo_path)
{
	g_autofree char *objects = g_build_filename(repo_path, "objects", NULL);
	g_autoptr(GDir) top = g_dir_open(objects, 0, NULL);
	const char *sub;
	guint n = 0;

	g_assert_nonnull(top);
	while ((sub = g_dir_read_name(top)) != NULL) {
		g_autofree char *path = g_build_filename(objects, sub, NULL);
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const char *name;

		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL)
			n += g_str_has_suffix(name, ".dirtree") ||
			     g_str_has_suffix(name, ".dirmeta");
	}
	return n;
}

/* A merge deployment as libostree lays it out: 3 files under etc/ and usr/etc/, 2 boot files,
 * and what is not read ahead: an empty file, a symlink, a FIFO (opening it for reading would
 * block: main() sets an alarm), a module, the module indexes. */
static void
setup(Fixture *f, gconstpointer data)
{
	g_autofree char *repo_path = NULL;

	testlib_repo_fixture_setup(&f->repo, data);
	repo_path = g_file_get_path(ostree_repo_get_path(f->repo.repo));
	f->metadata_objects = count_metadata_objects(repo_path);
	g_assert_cmpuint(f->metadata_objects, >, 2);
	f->deployment = g_build_filename(f->repo.tmpdir, "deploy", NULL);
	write_file(f->deployment, "etc/hostname", "device\n");
	write_file(f->deployment, "etc/ssh/sshd_config", "PermitRootLogin no\n");
	write_file(f->deployment, "etc/empty", "");
	write_file(f->deployment, "usr/etc/hostname", "localhost\n");
	write_file(f->deployment, "usr/lib/modules/6.1.0/vmlinuz", "kernel");
	write_file(f->deployment, "usr/lib/modules/6.1.0/initramfs.img", "initramfs");
	write_file(f->deployment, "usr/lib/modules/6.1.0/modules.dep", "deps");
	write_file(f->deployment, "usr/lib/modules/6.1.0/kernel/drivers/x.ko", "module");
	{
		g_autofree char *link = g_build_filename(f->deployment, "etc/localtime", NULL);

		g_autofree char *fifo = g_build_filename(f->deployment, "etc/initctl", NULL);

		g_assert_cmpint(symlink("/usr/share/zoneinfo/UTC", link), ==, 0);
		g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	}
	f->repo_dfd = open(repo_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f->deployment_dfd = open(f->deployment, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g_assert_cmpint(f->repo_dfd, >=, 0);
	g_assert_cmpint(f->deployment_dfd, >=, 0);
}

static void
teardown(Fixture *f, gconstpointer data)
{
	close(f->repo_dfd);
	close(f->deployment_dfd);
	g_free(f->deployment);
	testlib_repo_fixture_teardown(&f->repo, data);
}

static void
test_what_is_read_ahead(Fixture *f, gconstpointer data)
{
	g_autoptr(OstickPrefetch) prefetch = ostick_prefetch_start(f->repo_dfd, f->deployment_dfd);

	g_assert_nonnull(prefetch);
	/* every metadata object; etc/hostname, etc/ssh/sshd_config, usr/etc/hostname; vmlinuz and
	 * initramfs.img: not the empty file, the symlink, the FIFO, modules.dep or the module */
	g_assert_cmpuint(ostick_prefetch_wait(prefetch), ==, f->metadata_objects + 3 + 2);
	/* waiting again changes nothing */
	g_assert_cmpuint(ostick_prefetch_wait(prefetch), ==, f->metadata_objects + 5);
}

static void
test_without_deployment(Fixture *f, gconstpointer data)
{
	g_autoptr(OstickPrefetch) prefetch = ostick_prefetch_start(f->repo_dfd, -1);

	g_assert_nonnull(prefetch);
	g_assert_cmpuint(ostick_prefetch_wait(prefetch), ==, f->metadata_objects);
}

static gboolean
is_resident(const char *path)
{
	g_autoptr(GMappedFile) mapped = g_mapped_file_new(path, FALSE, NULL);
	unsigned char vec = 0;

	g_assert_nonnull(mapped);
	g_assert_cmpint(mincore(g_mapped_file_get_contents(mapped), 1, &vec), ==, 0);
	return (vec & 1) != 0;
}

/* Out of the page cache, if the filesystem lets it go (a tmpfs does not). */
static gboolean
evict(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(fdatasync(fd), ==, 0);
	g_assert_cmpint(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), ==, 0);
	close(fd);
	return !is_resident(path);
}

static void
test_pages_reach_the_cache(Fixture *f, gconstpointer data)
{
	g_autofree char *kernel =
		g_build_filename(f->deployment, "usr/lib/modules/6.1.0/vmlinuz", NULL);
	g_autoptr(OstickPrefetch) prefetch = NULL;
	gint64 deadline;

	if (!evict(kernel)) {
		g_test_skip("this filesystem keeps the file in the page cache");
		return;
	}
	prefetch = ostick_prefetch_start(f->repo_dfd, f->deployment_dfd);
	g_assert_nonnull(prefetch);
	ostick_prefetch_wait(prefetch);
	/* WILLNEED starts the read without waiting for it */
	deadline = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
	while (!is_resident(kernel) && g_get_monotonic_time() < deadline)
		g_usleep(10 * 1000);
	g_assert_true(is_resident(kernel));
}

/* 64 MiB at most: a sparse file of 65 MiB in etc/ is read ahead, and nothing after it. */
static void
test_bound(Fixture *f, gconstpointer data)
{
	g_autofree char *etc = g_build_filename(f->deployment, "etc", NULL);
	g_autofree char *big = g_build_filename(f->deployment, "usr/etc/big", NULL);
	g_autoptr(OstickPrefetch) prefetch = NULL;
	int fd;

	g_assert_cmpint(ostick_rm_rf(etc, NULL), ==, TRUE);
	g_assert_cmpint(g_mkdir(etc, 0755), ==, 0);
	fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(ftruncate(fd, 65 * 1024 * 1024), ==, 0);
	close(fd);
	{
		g_autofree char *other = g_build_filename(f->deployment, "usr/etc/hostname", NULL);

		g_assert_cmpint(unlink(other), ==, 0);
	}
	prefetch = ostick_prefetch_start(f->repo_dfd, f->deployment_dfd);
	g_assert_nonnull(prefetch);
	/* the metadata, then usr/etc/big; not the kernel or the initramfs */
	g_assert_cmpuint(ostick_prefetch_wait(prefetch), ==, f->metadata_objects + 1);
}

/* Freed while the thread may still run: it stops and is joined (under ASan, a thread left
 * running on the freed struct would be a use after free), and the caller's fds stay open. */
static void
test_free_while_running(Fixture *f, gconstpointer data)
{
	OstickPrefetch *prefetch = ostick_prefetch_start(f->repo_dfd, f->deployment_dfd);

	g_assert_nonnull(prefetch);
	ostick_prefetch_free(prefetch);
	g_assert_cmpint(fcntl(f->repo_dfd, F_GETFD), >=, 0);
	g_assert_cmpint(fcntl(f->deployment_dfd, F_GETFD), >=, 0);
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	/* A thread blocked in open() (a FIFO) would hang the test: fail it instead. */
	alarm(120);
	g_test_add("/prefetch/what-is-read-ahead", Fixture, NULL, setup, test_what_is_read_ahead,
		teardown);
	g_test_add("/prefetch/without-deployment", Fixture, NULL, setup, test_without_deployment,
		teardown);
	g_test_add("/prefetch/pages-reach-the-cache", Fixture, NULL, setup,
		test_pages_reach_the_cache, teardown);
	g_test_add("/prefetch/bound", Fixture, NULL, setup, test_bound, teardown);
	g_test_add("/prefetch/free-while-running", Fixture, NULL, setup, test_free_while_running,
		teardown);
	return g_test_run();
}
