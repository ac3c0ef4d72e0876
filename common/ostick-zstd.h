/* ostick-zstd.h: the `zstd` part encoding (FORMAT.md §5.5): one zstd frame holding a part's
 * payload, written by the bundler and decoded by the applier with bounded memory and output;
 * with the x86 branch conversion undone on the way for `zstd-x86` (§5.8).
 */
#pragma once

#include "ostick-bundle-reader.h"

#include <gio/gio.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct _OstickZstdWriter OstickZstdWriter;

/* Compresses what ostick_zstd_writer_write() is given into one frame written to @fd (borrowed;
 * -1: nowhere, only counted, to measure a choice).
 * @level 1..22; @workers >= 1 compression threads (the output does not depend on their number,
 * so bundles stay reproducible); @size_hint the expected input size, which picks the window (at
 * most 2^OSTICK_ZSTD_WINDOW_LOG_MAX). (transfer full) */
OstickZstdWriter *ostick_zstd_writer_new(
	int fd, int level, guint workers, guint64 size_hint, GError **error);
gboolean ostick_zstd_writer_write(
	OstickZstdWriter *writer, const void *data, gsize len, GError **error);
/* Ends the frame and writes what is left. Returns the number of input bytes in @out_input. */
gboolean ostick_zstd_writer_finish(OstickZstdWriter *writer, guint64 *out_input, GError **error);
/* The bytes of frame made so far. */
guint64 ostick_zstd_writer_get_output_size(OstickZstdWriter *writer);
void ostick_zstd_writer_free(OstickZstdWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickZstdWriter, ostick_zstd_writer_free)

/* Decodes the single zstd frame read from @in_fd (at its offset, to its end) and writes the
 * output to @out_fd. The output must be exactly @expected_size bytes and the input exactly one
 * frame: anything else (more output, less, trailing bytes, a window over the limit) is
 * OSTICK_ERROR_CORRUPT, found before more than @expected_size bytes are written. Memory is
 * bounded by the frame's window. With @x86_branches, the output is the frame's content with the
 * x86 branch conversion undone (`zstd-x86`, FORMAT.md §5.8). With @release_input, the input's
 * blocks are freed as they are read (ostick_release_consumed()). G_IO_ERROR on I/O failure or
 * cancellation. */
gboolean ostick_zstd_decode_fd(int in_fd, int out_fd, guint64 expected_size, gboolean x86_branches,
	gboolean release_input, GCancellable *cancellable, GError **error);
/* The same, handing the output to @sink in chunks instead; an error from @sink stops it. */
gboolean ostick_zstd_decode(int in_fd, guint64 expected_size, gboolean x86_branches,
	gboolean release_input, OstickChunkFunc sink, gpointer user_data, GCancellable *cancellable,
	GError **error);

G_END_DECLS
