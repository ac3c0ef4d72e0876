/* ostick-file.h: small file helpers: complete writes, and output files that appear whole or not
 * at all. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writes all @len bytes to @fd, retrying on EINTR and short writes. G_IO_ERROR on failure
 * (G_IO_ERROR_NO_SPACE when the disk is full). */
gboolean ostick_write_all(int fd, const void *data, gsize len, GError **error);

/* Reads up to @len bytes, retrying on EINTR and short reads; fewer only at end of file. */
gboolean ostick_read_all(int fd, void *data, gsize len, gsize *out_read, GError **error);

/* An output file written under a temporary name (or as an anonymous O_TMPFILE) in the
 * destination's directory, and put in place only by ostick_output_file_commit(). Freeing an
 * uncommitted one removes every trace of it. */
typedef struct _OstickOutputFile OstickOutputFile;

/* Opens a temporary file for @path. Fails with G_IO_ERROR_EXISTS if @path exists and
 * @overwrite is FALSE. (transfer full) */
OstickOutputFile *ostick_output_file_new(
	const char *path, gboolean overwrite, guint mode, GError **error);
/* The descriptor to write to. (transfer none) */
int ostick_output_file_get_fd(const OstickOutputFile *file);
/* fsyncs, then links or renames the file to its path (without replacing an existing file
 * unless @overwrite was given). */
gboolean ostick_output_file_commit(OstickOutputFile *file, GError **error);
void ostick_output_file_free(OstickOutputFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickOutputFile, ostick_output_file_free)

/* Creates an anonymous, unlinked read-write file in directory @dir_fd (O_TMPFILE), so that
 * nothing is left behind even if the process is killed. Falls back to create-and-unlink on
 * filesystems without O_TMPFILE. Returns the descriptor or -1 with @error set. */
int ostick_open_anonymous_tmpfile(int dir_fd, GError **error);

/* Removes @path and everything below it (not following symlinks). Missing is fine. */
gboolean ostick_rm_rf(const char *path, GError **error);

/* For a staged input being decoded: frees the blocks of @fd before its current offset (what the
 * decoder has read), from *@released on, in steps of 1 MiB, and advances *@released. The
 * staging then holds the decoded output and only the rest of the input. Best effort: on a
 * filesystem that cannot punch holes the blocks stay. */
void ostick_release_consumed(int fd, guint64 *released);

G_END_DECLS
