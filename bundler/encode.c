/* encode.c: libostree's xz parts re-encoded as zstd frames. */
#include "encode.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-xz.h"
#include "ostick-zstd.h"

#include <fcntl.h>

static gboolean
write_to_zstd(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	return ostick_zstd_writer_write(user_data, data, len, error);
}

gboolean
ostick_encode_part_zstd(const char *xz_path, const char *zst_path, int level, guint workers,
	guint64 size_hint, guint64 *out_payload_size, GCancellable *cancellable, GError **error)
{
	g_auto(OstickFd) in = open(xz_path, O_RDONLY | O_CLOEXEC);
	g_auto(OstickFd) out = -1;
	g_autoptr(OstickZstdWriter) writer = NULL;

	if (in < 0)
		return ostick_throw_errno(error, "%s", xz_path);
	out = open(zst_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return ostick_throw_errno(error, "%s", zst_path);
	writer = ostick_zstd_writer_new(out, level, workers, size_hint, error);
	if (writer == NULL)
		return FALSE;
	/* libostree's own part: no bound beyond the 16 GiB of FORMAT.md. */
	if (!ostick_xz_decode_part(
		    in, OSTICK_PART_MAX_SIZE, write_to_zstd, writer, NULL, cancellable, error))
		return g_prefix_error(error, "%s: ", xz_path), FALSE;
	return ostick_zstd_writer_finish(writer, out_payload_size, error);
}
