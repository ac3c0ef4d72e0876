/* prefetch.c: what libostree's deploy reads, asked of the storage while the apply runs.
 *
 * The deploy after an apply reads, one small read at a time and each waiting for the storage:
 * every dirtree and dirmeta of the target (a checkout, most of them the base's, cold), the
 * kernel and initramfs three times over (the boot checksum, then the copy to /boot), and the
 * merge deployment's etc/ and usr/etc/ (the three-way merge). A thread asks for all of them
 * with posix_fadvise(WILLNEED) as soon as the install starts: the storage reads them in the
 * background while the apply runs on the other core, and the deploy finds them in the page
 * cache (bench/README.md has what that saves). The thread reads ahead only; it writes nothing,
 * and calls no libostree function, so the repo and sysroot objects stay the main thread's. Nor
 * does it call anything that reads the environment: the apply sets TMPDIR while it runs.
 */
#include "prefetch.h"

#include "ostick-cleanup.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A bound on what a device with little memory is asked to cache: the metadata of a few
 * commits, a kernel and initramfs, /etc, with room to spare. */
#define PREFETCH_MAX_BYTES (64u * 1024 * 1024)
#define PREFETCH_MAX_DEPTH 32

struct OstickPrefetch {
	int repo_dfd;
	int deployment_dfd;
	GThread *thread;
	gint stop;
	guint advised;
	guint64 bytes;
};

static gboolean
stopped(OstickPrefetch *p)
{
	return g_atomic_int_get(&p->stop) || p->bytes >= PREFETCH_MAX_BYTES;
}

/* Asks for the whole of regular file @name in @dfd. O_NONBLOCK: a FIFO someone left in /etc
 * must not hold the thread in open() (the install waits for it at the end); nothing but a
 * regular file is kept open past the fstat(). */
static void
advise_at(OstickPrefetch *p, int dfd, const char *name)
{
	g_auto(OstickFd) fd =
		openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return;
	if (posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED) != 0)
		return;
	p->advised++;
	p->bytes += (guint64)st.st_size;
}

/* The entry's type, from readdir or, where the filesystem does not say, from fstatat(). */
static unsigned char
entry_type(int dfd, const struct dirent *entry)
{
	struct stat st;

	if (entry->d_type != DT_UNKNOWN)
		return entry->d_type;
	if (fstatat(dfd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
}

typedef gboolean (*NameFilter)(const char *name);

/* Every regular file in directory @path of @parent_dfd whose name @want takes, and with
 * @depth > 0 the same in its subdirectories, down to @depth levels. */
static void advise_dir(
	OstickPrefetch *p, int parent_dfd, const char *path, NameFilter want, guint depth);

static void
advise_entry(OstickPrefetch *p, int dfd, const struct dirent *entry, NameFilter want, guint depth)
{
	unsigned char type;

	if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
		return;
	type = entry_type(dfd, entry);
	if (type == DT_DIR && depth > 0)
		advise_dir(p, dfd, entry->d_name, want, depth - 1);
	else if (type == DT_REG && want(entry->d_name))
		advise_at(p, dfd, entry->d_name);
}

static void
advise_dir(OstickPrefetch *p, int parent_dfd, const char *path, NameFilter want, guint depth)
{
	/* A plain int: fdopendir() takes it over, and closedir() closes it. */
	int dfd = openat(parent_dfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	g_autoptr(OstickDir) dir = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *entry;

	if (dir == NULL) {
		ostick_fd_close(dfd);
		return;
	}
	while (!stopped(p) && (entry = readdir(dir)) != NULL)
		advise_entry(p, dfd, entry, want, depth);
}

static gboolean
is_metadata_object(const char *name)
{
	return g_str_has_suffix(name, ".dirtree") || g_str_has_suffix(name, ".dirmeta");
}

static gboolean
is_boot_file(const char *name)
{
	return g_str_has_prefix(name, "vmlinuz") || g_str_has_prefix(name, "initramfs") ||
	       g_str_has_prefix(name, "devicetree");
}

static gboolean
any_name(const char *name)
{
	return TRUE;
}

/* In the order the deploy needs them: the checkout, the /etc merge, the kernel. */
static gpointer
prefetch_thread(gpointer data)
{
	OstickPrefetch *p = data;

	for (guint i = 0; i < 256 && !stopped(p); i++) {
		char objects_dir[sizeof "objects/xx"];

		snprintf(objects_dir, sizeof objects_dir, "objects/%02x", i);
		advise_dir(p, p->repo_dfd, objects_dir, is_metadata_object, 0);
	}
	if (p->deployment_dfd < 0)
		return NULL;
	advise_dir(p, p->deployment_dfd, "etc", any_name, PREFETCH_MAX_DEPTH);
	advise_dir(p, p->deployment_dfd, "usr/etc", any_name, PREFETCH_MAX_DEPTH);
	advise_dir(p, p->deployment_dfd, "usr/lib/modules", is_boot_file, 1);
	return NULL;
}

OstickPrefetch *
ostick_prefetch_start(int repo_dfd, int deployment_dfd)
{
	OstickPrefetch *p = g_new0(OstickPrefetch, 1);

	p->repo_dfd = fcntl(repo_dfd, F_DUPFD_CLOEXEC, 3);
	p->deployment_dfd = deployment_dfd < 0 ? -1 : fcntl(deployment_dfd, F_DUPFD_CLOEXEC, 3);
	if (p->repo_dfd >= 0)
		p->thread = g_thread_try_new("ostick-prefetch", prefetch_thread, p, NULL);
	if (p->thread == NULL) {
		ostick_prefetch_free(p);
		return NULL;
	}
	return p;
}

OstickPrefetch *
ostick_prefetch_start_for_deploy(OstickDevice *device)
{
	g_autofree char *path = NULL;
	g_auto(OstickFd) deployment_dfd = -1;

	if (device->merge == NULL)
		return NULL;
	path = ostree_sysroot_get_deployment_dirpath(device->sysroot, device->merge);
	deployment_dfd = openat(
		ostree_sysroot_get_fd(device->sysroot), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (deployment_dfd < 0)
		return NULL;
	return ostick_prefetch_start(ostree_repo_get_dfd(device->repo), deployment_dfd);
}

guint
ostick_prefetch_wait(OstickPrefetch *prefetch)
{
	if (prefetch->thread != NULL)
		g_thread_join(g_steal_pointer(&prefetch->thread));
	return prefetch->advised;
}

void
ostick_prefetch_free(OstickPrefetch *prefetch)
{
	if (prefetch == NULL)
		return;
	g_atomic_int_set(&prefetch->stop, 1);
	(void)ostick_prefetch_wait(prefetch);
	ostick_fd_close(prefetch->repo_dfd);
	ostick_fd_close(prefetch->deployment_dfd);
	g_free(prefetch);
}
