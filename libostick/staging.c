/* staging.c: libostree's staging directories, and taking a failed install's objects back out.
 *
 * A commit renames the staged objects into objects/ one by one, creating object directories as
 * it goes; on a full disk it can stop part way, leaving some of them in the repo. And a deploy
 * that fails after the commit leaves all of them. Nothing refers to those objects, but they
 * hold space on a device that has none to spare, so ostick lists them before the commit and
 * removes them when the install fails after all.
 */
#include "staging.h"

#include "ostick-cleanup.h"
#include "ostick-file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct OstickAddedObjects {
	char *staging_path;
	GPtrArray *objects; /* "xx/rest.type", relative to objects/ */
	GPtrArray *new_dirs; /* "xx": object directories objects/ does not have yet */
};

static char *
repo_subdir(OstreeRepo *repo, const char *name)
{
	g_autofree char *repo_path = g_file_get_path(ostree_repo_get_path(repo));

	return g_build_filename(repo_path, name, NULL);
}

GHashTable *
ostick_staging_list(OstreeRepo *repo)
{
	g_autofree char *tmp_path = repo_subdir(repo, "tmp");
	g_autoptr(GDir) dir = g_dir_open(tmp_path, 0, NULL);
	GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	const char *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		if (g_str_has_prefix(name, "staging-") && !g_str_has_suffix(name, "-lock"))
			g_hash_table_add(names, g_strdup(name));
	}
	return names;
}

/* libglnx's lock on a staging directory: an OFD write lock on <dir>-lock (flock() would not
 * exclude it). Fails while libostree, in this process or another, holds it. */
static gboolean
try_lock_staging(const char *lock_path, int *out_fd)
{
	struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	g_auto(OstickFd) fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 || fcntl(fd, F_OFD_SETLK, &lock) < 0)
		return FALSE;
	*out_fd = ostick_steal_fd(&fd);
	return TRUE;
}

/* libostree keeps an aborted transaction's staging directory for the next pull of this boot
 * to resume; a failed install must leave nothing staged. */
void
ostick_staging_remove_new(OstreeRepo *repo, GHashTable *before)
{
	g_autofree char *tmp_path = repo_subdir(repo, "tmp");
	g_autoptr(GHashTable) now = ostick_staging_list(repo);
	GHashTableIter iter;
	const char *name;

	g_hash_table_iter_init(&iter, now);
	while (g_hash_table_iter_next(&iter, (gpointer *)&name, NULL)) {
		g_autofree char *path = g_build_filename(tmp_path, name, NULL);
		g_autofree char *lock_path = g_strconcat(path, "-lock", NULL);
		g_auto(OstickFd) lock_fd = -1;

		if (g_hash_table_contains(before, name) || !try_lock_staging(lock_path, &lock_fd))
			continue;
		(void)ostick_rm_rf(path, NULL);
		(void)unlink(lock_path);
	}
}

/* Whether libostree holds the lock on the staging directory @lock_path is the lock file of. */
static gboolean
staging_is_locked(const char *lock_path)
{
	struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	g_auto(OstickFd) fd = open(lock_path, O_RDWR | O_CLOEXEC);

	return fd >= 0 && fcntl(fd, F_OFD_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
}

/* The one name of @now not in @before, else NULL. */
static const char *
only_new_name(GHashTable *now, GHashTable *before, guint *n_new)
{
	const char *found = NULL;
	GHashTableIter iter;
	const char *name;

	*n_new = 0;
	g_hash_table_iter_init(&iter, now);
	while (g_hash_table_iter_next(&iter, (gpointer *)&name, NULL)) {
		if (!g_hash_table_contains(before, name))
			found = name, (*n_new)++;
	}
	return *n_new == 1 ? found : NULL;
}

/* The one staging directory of @now whose lock is held, else NULL. */
static const char *
only_locked_name(GHashTable *now, const char *tmp_path)
{
	const char *found = NULL;
	guint n_locked = 0;
	GHashTableIter iter;
	const char *name;

	g_hash_table_iter_init(&iter, now);
	while (g_hash_table_iter_next(&iter, (gpointer *)&name, NULL)) {
		g_autofree char *lock_path = g_strconcat(tmp_path, "/", name, "-lock", NULL);

		if (staging_is_locked(lock_path))
			found = name, n_locked++;
	}
	return n_locked == 1 ? found : NULL;
}

/* The transaction's staging directory: the one new since @before, else (libostree reused one
 * of this boot's) the one locked now; *@reused says which. NULL if it cannot be told. */
static char *
find_transaction_staging(OstreeRepo *repo, GHashTable *before, gboolean *reused)
{
	g_autofree char *tmp_path = repo_subdir(repo, "tmp");
	g_autoptr(GHashTable) now = ostick_staging_list(repo);
	guint n_new = 0;
	const char *name = only_new_name(now, before, &n_new);

	*reused = n_new == 0;
	if (*reused)
		name = only_locked_name(now, tmp_path);
	return name == NULL ? NULL : g_build_filename(tmp_path, name, NULL);
}

static int
open_objects_dir(OstreeRepo *repo)
{
	return openat(ostree_repo_get_dfd(repo), "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static gboolean
exists_at(int dfd, const char *path)
{
	struct stat st;

	return fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Adds the objects staged in @dir_name (an object directory of the staging directory). In a
 * reused staging directory an object may also be in objects/ already: that one stays out. */
static void
list_staged_dir(OstickAddedObjects *added, int staging_dfd, int objects_dfd, const char *dir_name,
	gboolean reused)
{
	g_auto(OstickFd) dfd = openat(staging_dfd, dir_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g_autoptr(OstickDir) dir = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *dent;

	if (dir == NULL)
		return;
	dfd = -1; /* the DIR owns it */
	if (!exists_at(objects_dfd, dir_name))
		g_ptr_array_add(added->new_dirs, g_strdup(dir_name));
	while ((dent = readdir(dir)) != NULL) {
		g_autofree char *object = NULL;

		if (dent->d_name[0] == '.')
			continue;
		object = g_strconcat(dir_name, "/", dent->d_name, NULL);
		if (reused && exists_at(objects_dfd, object))
			continue;
		g_ptr_array_add(added->objects, g_steal_pointer(&object));
	}
}

OstickAddedObjects *
ostick_added_objects_take(OstreeRepo *repo, GHashTable *before)
{
	gboolean reused = FALSE;
	g_autofree char *staging_path = find_transaction_staging(repo, before, &reused);
	g_autoptr(OstickAddedObjects) added = NULL;
	g_auto(OstickFd) objects_dfd = -1;
	g_autoptr(OstickDir) staging = NULL;
	struct dirent *dent;

	if (staging_path == NULL)
		return NULL;
	objects_dfd = open_objects_dir(repo);
	staging = opendir(staging_path);
	if (objects_dfd < 0 || staging == NULL)
		return NULL;
	added = g_new0(OstickAddedObjects, 1);
	added->staging_path = g_steal_pointer(&staging_path);
	added->objects = g_ptr_array_new_with_free_func(g_free);
	added->new_dirs = g_ptr_array_new_with_free_func(g_free);
	while ((dent = readdir(staging)) != NULL) {
		if (strlen(dent->d_name) == 2 && dent->d_name[0] != '.')
			list_staged_dir(added, dirfd(staging), objects_dfd, dent->d_name, reused);
	}
	return g_steal_pointer(&added);
}

void
ostick_added_objects_remove(OstreeRepo *repo, const OstickAddedObjects *added)
{
	g_auto(OstickFd) objects_dfd = open_objects_dir(repo);
	/* Gone once a commit completed: then every object left it. */
	g_auto(OstickFd) staging_dfd =
		open(added->staging_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (objects_dfd < 0)
		return;
	for (guint i = 0; i < added->objects->len; i++) {
		const char *object = added->objects->pdata[i];

		if (staging_dfd >= 0 && exists_at(staging_dfd, object))
			continue; /* never renamed: the abort removes it */
		(void)unlinkat(objects_dfd, object, 0);
	}
	/* Only the empty ones go: another writer may have put objects there since. */
	for (guint i = 0; i < added->new_dirs->len; i++)
		(void)unlinkat(objects_dfd, added->new_dirs->pdata[i], AT_REMOVEDIR);
	(void)fsync(objects_dfd);
}

void
ostick_added_objects_free(OstickAddedObjects *added)
{
	if (added == NULL)
		return;
	g_free(added->staging_path);
	g_ptr_array_unref(added->objects);
	g_ptr_array_unref(added->new_dirs);
	g_free(added);
}
