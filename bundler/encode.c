/* encode.c: libostree's xz parts re-encoded as zstd frames. */
#include "encode.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-zstd.h"

#include <fcntl.h>

#define DECODE_CHUNK (1024 * 1024)
#define XZ_COMPRESSION_BYTE 'x'

/* The xz stream after @fd's compression byte, decoded by libarchive (raw format, xz filter). */
static struct archive *
open_xz_payload(int fd, const char *path, GError **error)
{
	g_autoptr(OstickArchive) archive = archive_read_new();
	struct archive_entry *entry = NULL;
	char kind = 0;

	if (read(fd, &kind, 1) != 1 || kind != XZ_COMPRESSION_BYTE) {
		ostick_throw(error, OSTICK_ERROR_FORMAT, "%s: not an xz delta part", path);
		return NULL;
	}
	if (archive_read_support_filter_xz(archive) != ARCHIVE_OK ||
		archive_read_support_format_raw(archive) != ARCHIVE_OK ||
		archive_read_open_fd(archive, fd, DECODE_CHUNK) != ARCHIVE_OK ||
		archive_read_next_header(archive, &entry) != ARCHIVE_OK) {
		ostick_throw(error, OSTICK_ERROR_FORMAT, "%s: %s", path,
			archive_error_string(archive) ?: "cannot decode");
		return NULL;
	}
	return g_steal_pointer(&archive);
}

gboolean
ostick_encode_part_zstd(const char *xz_path, const char *zst_path, int level, guint workers,
	guint64 size_hint, guint64 *out_payload_size, GCancellable *cancellable, GError **error)
{
	g_auto(OstickFd) in = open(xz_path, O_RDONLY | O_CLOEXEC);
	g_auto(OstickFd) out = -1;
	g_autoptr(OstickArchive) xz = NULL;
	g_autoptr(OstickZstdWriter) writer = NULL;
	g_autofree guint8 *buf = g_malloc(DECODE_CHUNK);

	if (in < 0)
		return ostick_throw_errno(error, "%s", xz_path);
	out = open(zst_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return ostick_throw_errno(error, "%s", zst_path);
	xz = open_xz_payload(in, xz_path, error);
	writer = xz ? ostick_zstd_writer_new(out, level, workers, size_hint, error) : NULL;
	if (writer == NULL)
		return FALSE;
	for (;;) {
		la_ssize_t n = archive_read_data(xz, buf, DECODE_CHUNK);

		if (n < 0)
			return ostick_throw(error, OSTICK_ERROR_FORMAT, "%s: %s", xz_path,
				archive_error_string(xz) ?: "xz stream corrupt");
		if (n == 0)
			break;
		if (g_cancellable_set_error_if_cancelled(cancellable, error) ||
			!ostick_zstd_writer_write(writer, buf, (gsize)n, error))
			return FALSE;
	}
	if (!ostick_zstd_writer_finish(writer, out_payload_size, error))
		return FALSE;
	return TRUE;
}
