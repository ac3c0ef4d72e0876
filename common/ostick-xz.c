/* ostick-xz.c: bounded decoding of libostree's xz parts, through libarchive (raw, xz filter). */
#include "ostick-xz.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <unistd.h>

#define DECODE_CHUNK (1024 * 1024)
#define XZ_COMPRESSION_BYTE 'x'

guint64
ostick_xz_payload_bound(guint64 decoded_size, guint n_objects)
{
	return decoded_size + decoded_size / 4 + (guint64)n_objects * 4096 + 1024 * 1024;
}

static struct archive *
open_xz_stream(int fd, GError **error)
{
	g_autoptr(OstickArchive) archive = archive_read_new();
	struct archive_entry *entry = NULL;
	char kind = 0;

	if (read(fd, &kind, 1) != 1 || kind != XZ_COMPRESSION_BYTE) {
		ostick_throw(error, OSTICK_ERROR_CORRUPT, "not an xz delta part");
		return NULL;
	}
	if (archive_read_support_filter_xz(archive) != ARCHIVE_OK ||
		archive_read_support_format_raw(archive) != ARCHIVE_OK ||
		archive_read_open_fd(archive, fd, DECODE_CHUNK) != ARCHIVE_OK ||
		archive_read_next_header(archive, &entry) != ARCHIVE_OK) {
		ostick_throw(error, OSTICK_ERROR_CORRUPT, "xz part: %s",
			archive_error_string(archive) ?: "cannot decode");
		return NULL;
	}
	return g_steal_pointer(&archive);
}

gboolean
ostick_xz_decode_part(int fd, guint64 max_size, OstickChunkFunc sink, gpointer user_data,
	guint64 *out_size, GCancellable *cancellable, GError **error)
{
	g_autoptr(OstickArchive) xz = open_xz_stream(fd, error);
	g_autofree guint8 *buf = g_malloc(DECODE_CHUNK);
	guint64 total = 0;

	if (xz == NULL)
		return FALSE;
	for (;;) {
		la_ssize_t n = archive_read_data(xz, buf, DECODE_CHUNK);

		if (n < 0)
			return ostick_throw(error, OSTICK_ERROR_CORRUPT, "xz part: %s",
				archive_error_string(xz) ?: "stream corrupt");
		if (n == 0)
			break;
		if ((guint64)n > max_size - total)
			return ostick_throw(error, OSTICK_ERROR_CORRUPT,
				"xz part decodes to more than %" G_GUINT64_FORMAT
				" bytes, larger than its decoded size allows (FORMAT.md 5.4)",
				max_size);
		total += (guint64)n;
		if (g_cancellable_set_error_if_cancelled(cancellable, error) ||
			!sink(buf, (gsize)n, user_data, error))
			return FALSE;
	}
	if (out_size != NULL)
		*out_size = total;
	return TRUE;
}
