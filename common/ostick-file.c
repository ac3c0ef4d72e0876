/* ostick-file.c: complete reads and writes, atomic output files, anonymous temporary files. */
#include "ostick-file.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

struct _OstickOutputFile {
	char *path;
	char *tmp_path; /* NULL when the file is an O_TMPFILE */
	int fd;
	gboolean overwrite;
	gboolean committed;
};

gboolean
ostick_write_all(int fd, const void *data, gsize len, GError **error)
{
	const guint8 *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, MIN(len, (gsize)G_MAXSSIZE));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ostick_throw_errno(error, "write");
		if (n == 0)
			return ostick_throw_errno_value(error, ENOSPC, "write");
		p += n;
		len -= (gsize)n;
	}
	return TRUE;
}

gboolean
ostick_read_all(int fd, void *data, gsize len, gsize *out_read, GError **error)
{
	guint8 *p = data;
	gsize done = 0;

	while (done < len) {
		ssize_t n = read(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ostick_throw_errno(error, "read");
		if (n == 0)
			break;
		done += (gsize)n;
	}
	*out_read = done;
	return TRUE;
}

static char *
dir_of(const char *path)
{
	return g_path_get_dirname(path);
}

OstickOutputFile *
ostick_output_file_new(const char *path, gboolean overwrite, guint mode, GError **error)
{
	g_autoptr(OstickOutputFile) file = g_new0(OstickOutputFile, 1);
	g_autofree char *dir = dir_of(path);

	file->fd = -1;
	file->path = g_strdup(path);
	file->overwrite = overwrite;
	if (!overwrite && g_file_test(path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK)) {
		ostick_throw_errno_value(error, EEXIST, "%s", path);
		return NULL;
	}
	file->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	if (file->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		/* FAT and other filesystems without O_TMPFILE: a hidden name beside the target. */
		g_autofree char *base = g_path_get_basename(path);

		file->tmp_path = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
		file->fd = g_mkstemp_full(file->tmp_path, O_WRONLY | O_CLOEXEC, (int)mode);
	}
	if (file->fd < 0) {
		ostick_throw_errno(error, "creating %s", path);
		g_clear_pointer(&file->tmp_path, g_free);
		return NULL;
	}
	if (fchmod(file->fd, mode) < 0) {
		ostick_throw_errno(error, "chmod %s", path);
		return NULL;
	}
	return g_steal_pointer(&file);
}

int
ostick_output_file_get_fd(const OstickOutputFile *file)
{
	return file->fd;
}

static gboolean
link_tmpfile(OstickOutputFile *file, GError **error)
{
	g_autofree char *proc = g_strdup_printf("/proc/self/fd/%d", file->fd);

	if (linkat(AT_FDCWD, proc, AT_FDCWD, file->path, AT_SYMLINK_FOLLOW) == 0)
		return TRUE;
	if (errno != EEXIST || !file->overwrite)
		return ostick_throw_errno(error, "%s", file->path);
	/* Overwrite: link under a temporary name, then rename over the target atomically. */
	{
		g_autofree char *dir = dir_of(file->path);
		g_autofree char *tmp = g_strdup_printf("%s/.ostick-%08x", dir, g_random_int());

		if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0)
			return ostick_throw_errno(error, "%s", tmp);
		if (rename(tmp, file->path) < 0) {
			int errsv = errno;

			(void)unlink(tmp);
			return ostick_throw_errno_value(error, errsv, "%s", file->path);
		}
	}
	return TRUE;
}

gboolean
ostick_output_file_commit(OstickOutputFile *file, GError **error)
{
	g_return_val_if_fail(!file->committed, FALSE);
	if (fsync(file->fd) < 0)
		return ostick_throw_errno(error, "fsync %s", file->path);
	if (file->tmp_path == NULL) {
		if (!link_tmpfile(file, error))
			return FALSE;
	} else {
		if (!file->overwrite && g_file_test(file->path, G_FILE_TEST_EXISTS))
			return ostick_throw_errno_value(error, EEXIST, "%s", file->path);
		if (rename(file->tmp_path, file->path) < 0)
			return ostick_throw_errno(error, "%s", file->path);
		g_clear_pointer(&file->tmp_path, g_free);
	}
	file->committed = TRUE;
	return TRUE;
}

void
ostick_output_file_free(OstickOutputFile *file)
{
	if (file == NULL)
		return;
	if (file->tmp_path != NULL)
		(void)unlink(file->tmp_path);
	ostick_fd_close(file->fd);
	g_free(file->tmp_path);
	g_free(file->path);
	g_free(file);
}

int
ostick_open_anonymous_tmpfile(int dir_fd, GError **error)
{
	int fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0)
		return fd;
	if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
		for (int attempt = 0; attempt < 100; attempt++) {
			g_autofree char *name = g_strdup_printf(".ostick-tmp-%08x", g_random_int());

			fd = openat(dir_fd, name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
			if (fd >= 0) {
				(void)unlinkat(dir_fd, name, 0);
				return fd;
			}
			if (errno != EEXIST)
				break;
		}
	}
	ostick_throw_errno(error, "creating a temporary file");
	return -1;
}

static int
remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

gboolean
ostick_rm_rf(const char *path, GError **error)
{
	if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return ostick_throw_errno(error, "removing %s", path);
	return TRUE;
}

#define RELEASE_STEP (1024 * 1024)

void
ostick_release_consumed(int fd, guint64 *released)
{
	off_t pos = lseek(fd, 0, SEEK_CUR);
	guint64 end;

	if (pos < 0)
		return;
	end = (guint64)pos / RELEASE_STEP * RELEASE_STEP;
	if (end <= *released)
		return;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)*released,
		    (off_t)(end - *released)) == 0)
		*released = end;
}
