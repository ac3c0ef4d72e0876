/* ostick-bundle-writer.c: tar container writing with libarchive (pax, restricted to ustar
 * headers unless a field needs more, e.g. members over 8 GiB). */
#include "ostick-bundle-writer.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"

#include <errno.h>

#define COPY_CHUNK (1024 * 1024)

struct _OstickBundleWriter {
	struct archive *archive;
	gint64 mtime;
	gboolean closed;
};

static gboolean
throw_archive(struct archive *a, const char *what, GError **error)
{
	int errsv = archive_errno(a);

	if (errsv > 0 && errsv != EINVAL)
		return ostick_throw_errno_value(error, errsv, "%s", what);
	return ostick_throw(error, OSTICK_ERROR_FORMAT, "%s: %s", what,
		archive_error_string(a) ? archive_error_string(a) : "libarchive error");
}

OstickBundleWriter *
ostick_bundle_writer_new(int fd, gint64 mtime, GError **error)
{
	g_autoptr(OstickBundleWriter) writer = g_new0(OstickBundleWriter, 1);

	writer->mtime = mtime;
	writer->archive = archive_write_new();
	if (archive_write_set_format_pax_restricted(writer->archive) != ARCHIVE_OK ||
		archive_write_add_filter_none(writer->archive) != ARCHIVE_OK ||
		archive_write_open_fd(writer->archive, fd) != ARCHIVE_OK) {
		throw_archive(writer->archive, "starting the bundle", error);
		return NULL;
	}
	return g_steal_pointer(&writer);
}

void
ostick_bundle_writer_free(OstickBundleWriter *writer)
{
	if (writer == NULL)
		return;
	/* archive_write_free() would also finish the archive; an unclosed bundle stays unfinished. */
	if (!writer->closed)
		archive_write_fail(writer->archive);
	archive_write_free(writer->archive);
	g_free(writer);
}

static gboolean
write_header(OstickBundleWriter *writer, const char *name, guint64 size, GError **error)
{
	g_autoptr(OstickArchiveEntry) entry = archive_entry_new();

	archive_entry_set_pathname(entry, name);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0644);
	archive_entry_set_size(entry, (la_int64_t)size);
	archive_entry_set_mtime(entry, writer->mtime, 0);
	archive_entry_set_uid(entry, 0);
	archive_entry_set_gid(entry, 0);
	if (archive_write_header(writer->archive, entry) != ARCHIVE_OK)
		return throw_archive(writer->archive, name, error);
	return TRUE;
}

static gboolean
write_data(
	OstickBundleWriter *writer, const char *name, const void *data, gsize len, GError **error)
{
	la_ssize_t n = archive_write_data(writer->archive, data, len);

	if (n < 0 || (gsize)n != len)
		return throw_archive(writer->archive, name, error);
	return TRUE;
}

gboolean
ostick_bundle_writer_add_bytes(
	OstickBundleWriter *writer, const char *name, GBytes *data, GError **error)
{
	gsize len = 0;
	const void *p = g_bytes_get_data(data, &len);

	g_return_val_if_fail(!writer->closed, FALSE);
	return write_header(writer, name, len, error) && write_data(writer, name, p, len, error);
}

gboolean
ostick_bundle_writer_add_fd(OstickBundleWriter *writer, const char *name, int fd, guint64 size,
	OstickWriteProgressFunc progress, gpointer user_data, GError **error)
{
	g_autofree guint8 *buf = g_malloc(COPY_CHUNK);
	guint64 done = 0;

	g_return_val_if_fail(!writer->closed, FALSE);
	if (!write_header(writer, name, size, error))
		return FALSE;
	while (done < size) {
		gsize n = 0;

		if (!ostick_read_all(fd, buf, (gsize)MIN(size - done, COPY_CHUNK), &n, error))
			return FALSE;
		if (n == 0)
			return ostick_throw(error, OSTICK_ERROR_FORMAT,
				"%s: file shrank to %" G_GUINT64_FORMAT " bytes while packing",
				name, done);
		if (!write_data(writer, name, buf, n, error))
			return FALSE;
		done += n;
		if (progress != NULL)
			progress(done, user_data);
	}
	return TRUE;
}

gboolean
ostick_bundle_writer_close(OstickBundleWriter *writer, GError **error)
{
	g_return_val_if_fail(!writer->closed, FALSE);
	if (archive_write_close(writer->archive) != ARCHIVE_OK)
		return throw_archive(writer->archive, "finishing the bundle", error);
	writer->closed = TRUE;
	return TRUE;
}
