/* encode.c: libostree's xz parts re-encoded as zstd frames, with or without the x86 branch
 * conversion. */
#include "encode.h"

#include "ostick-branch.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-xz.h"
#include "ostick-zstd.h"

#include <fcntl.h>
#include <unistd.h>

/* The trial runs at this level: its verdict matched level 19's on every part of the bench's
 * Debian trees, at a small fraction of the time. */
#define TRIAL_LEVEL 1
/* The conversion must win by at least 1 % to be used: below that it is noise. */
#define TRIAL_MIN_GAIN_PERCENT 1

static gboolean
write_to_zstd(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	return ostick_zstd_writer_write(user_data, data, len, error);
}

/* Decodes @xz_path's payload and hands it to @sink. */
static gboolean
decode_xz_part(const char *xz_path, OstickChunkFunc sink, gpointer user_data,
	GCancellable *cancellable, GError **error)
{
	g_auto(OstickFd) in = open(xz_path, O_RDONLY | O_CLOEXEC);

	if (in < 0)
		return ostick_throw_errno(error, "%s", xz_path);
	/* libostree's own part: no bound beyond the 16 GiB of FORMAT.md. */
	if (!ostick_xz_decode_part(
		    in, OSTICK_PART_MAX_SIZE, FALSE, sink, user_data, NULL, cancellable, error))
		return g_prefix_error(error, "%s: ", xz_path), FALSE;
	return TRUE;
}

typedef struct {
	OstickZstdWriter *plain;
	OstickBranchStream *converted;
} Trial;

static gboolean
write_to_trial(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	Trial *trial = user_data;

	return ostick_zstd_writer_write(trial->plain, data, len, error) &&
	       ostick_branch_stream_write(trial->converted, data, len, error);
}

/* Compresses the payload quickly both ways, counting the output only. */
static gboolean
x86_conversion_pays(const char *xz_path, guint64 size_hint, gboolean *out_pays,
	GCancellable *cancellable, GError **error)
{
	g_autoptr(OstickZstdWriter) plain =
		ostick_zstd_writer_new(-1, TRIAL_LEVEL, 1, size_hint, error);
	g_autoptr(OstickZstdWriter) x86 = NULL;
	g_autoptr(OstickBranchStream) converted = NULL;
	Trial trial;
	guint64 input = 0;

	if (plain == NULL)
		return FALSE;
	x86 = ostick_zstd_writer_new(-1, TRIAL_LEVEL, 1, size_hint, error);
	if (x86 == NULL)
		return FALSE;
	converted = ostick_branch_stream_new(TRUE, write_to_zstd, x86);
	trial = (Trial){plain, converted};
	if (!decode_xz_part(xz_path, write_to_trial, &trial, cancellable, error) ||
		!ostick_branch_stream_finish(converted, error) ||
		!ostick_zstd_writer_finish(plain, &input, error) ||
		!ostick_zstd_writer_finish(x86, &input, error))
		return FALSE;
	*out_pays = ostick_zstd_writer_get_output_size(x86) * 100 <=
		    ostick_zstd_writer_get_output_size(plain) * (100 - TRIAL_MIN_GAIN_PERCENT);
	return TRUE;
}

gboolean
ostick_encode_part_zstd(const char *xz_path, const char *zst_path, int level, guint workers,
	guint64 size_hint, OstickBranchChoice branches, gboolean *out_x86,
	guint64 *out_payload_size, GCancellable *cancellable, GError **error)
{
	g_auto(OstickFd) out = -1;
	g_autoptr(OstickZstdWriter) writer = NULL;
	g_autoptr(OstickBranchStream) converted = NULL;
	gboolean x86 = branches == OSTICK_BRANCHES_X86;

	if (branches == OSTICK_BRANCHES_AUTO &&
		!x86_conversion_pays(xz_path, size_hint, &x86, cancellable, error))
		return FALSE;
	out = open(zst_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return ostick_throw_errno(error, "%s", zst_path);
	writer = ostick_zstd_writer_new(out, level, workers, size_hint, error);
	if (writer == NULL)
		return FALSE;
	if (x86)
		converted = ostick_branch_stream_new(TRUE, write_to_zstd, writer);
	if (!decode_xz_part(xz_path, x86 ? ostick_branch_stream_sink : write_to_zstd,
		    x86 ? (gpointer)converted : (gpointer)writer, cancellable, error) ||
		(x86 && !ostick_branch_stream_finish(converted, error)))
		return FALSE;
	*out_x86 = x86;
	return ostick_zstd_writer_finish(writer, out_payload_size, error);
}
