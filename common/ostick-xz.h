/* ostick-xz.h: libostree's own part encoding (`ostree-xz`, FORMAT.md §5.4), decoded by ostick
 * with a bound, so that no xz stream, however it was made, can fill the device's disk. */
#pragma once

#include "ostick-bundle-reader.h"

#include <gio/gio.h>
#include <glib.h>

G_BEGIN_DECLS

/* The most an `ostree-xz` part's payload may decode to (FORMAT.md §5.4): the part header's
 * uncompressed size (@decoded_size: the objects' content), plus a quarter, plus 4 KiB per object
 * (@n_objects: modes, extended attributes, opcodes), plus 1 MiB. */
guint64 ostick_xz_payload_bound(guint64 decoded_size, guint n_objects);

/* Decodes the part read from @fd at its offset (compression byte 'x', then one xz stream) and
 * hands the payload to @sink in chunks. More than @max_size bytes of output, another
 * compression byte, or a stream that does not decode is OSTICK_ERROR_CORRUPT, found before more
 * than @max_size bytes reached @sink. With @release_input, @fd's blocks are freed as they are
 * read (ostick_release_consumed()). @out_size (optional) gets the payload's length. */
gboolean ostick_xz_decode_part(int fd, guint64 max_size, gboolean release_input,
	OstickChunkFunc sink, gpointer user_data, guint64 *out_size, GCancellable *cancellable,
	GError **error);

typedef struct _OstickXzStoredWriter OstickXzStoredWriter;

/* An xz stream (FORMAT.md §5.4's container) that stores what it is given without compressing
 * it: LZMA2 uncompressed chunks in blocks of 1 MiB, no integrity check (the data is verified
 * already). Its bytes go to @sink as they are made, the stream header first; the same input
 * always gives the same bytes. libostree decodes it at the speed of a copy, with a 4 KiB
 * dictionary. (transfer full) */
OstickXzStoredWriter *ostick_xz_stored_writer_new(
	OstickChunkFunc sink, gpointer user_data, GError **error);
gboolean ostick_xz_stored_writer_write(
	OstickXzStoredWriter *writer, const guint8 *data, gsize len, GError **error);
/* Writes the last block, the index and the footer; @out_size (optional): the stream's length. */
gboolean ostick_xz_stored_writer_finish(
	OstickXzStoredWriter *writer, guint64 *out_size, GError **error);
void ostick_xz_stored_writer_free(OstickXzStoredWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickXzStoredWriter, ostick_xz_stored_writer_free)

G_END_DECLS
