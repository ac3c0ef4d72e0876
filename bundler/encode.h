/* encode.h: part encodings other than libostree's own (FORMAT.md §5.5). */
#pragma once

#include <gio/gio.h>
#include <glib.h>

G_BEGIN_DECLS

#define OSTICK_DEFAULT_ZSTD_LEVEL 19

/* Re-encodes the libostree part file @xz_path (compression byte 'x', then an xz stream) as one
 * zstd frame of its decoded payload, written to @zst_path (created). @size_hint, the payload's
 * expected size, picks the window; @workers >= 1 compression threads (the output does not
 * depend on their number). @out_payload_size receives the payload's exact length. */
gboolean ostick_encode_part_zstd(const char *xz_path, const char *zst_path, int level,
	guint workers, guint64 size_hint, guint64 *out_payload_size, GCancellable *cancellable,
	GError **error);

G_END_DECLS
