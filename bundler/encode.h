/* encode.h: part encodings other than libostree's own (FORMAT.md §5.5, §5.8). */
#pragma once

#include <gio/gio.h>
#include <glib.h>

G_BEGIN_DECLS

#define OSTICK_DEFAULT_ZSTD_LEVEL 19

/* Whether a zstd part's payload goes through the x86 branch conversion (`zstd-x86`) first. */
typedef enum {
	OSTICK_BRANCHES_AUTO, /* where a quick trial shows it makes the part smaller */
	OSTICK_BRANCHES_NONE,
	OSTICK_BRANCHES_X86,
} OstickBranchChoice;

/* Re-encodes the libostree part file @xz_path (compression byte 'x', then an xz stream) as one
 * zstd frame of its decoded payload, written to @zst_path (created); with the x86 branch
 * conversion first as @branches says, and @out_x86 says whether it was. @size_hint, the
 * payload's expected size, picks the window; @workers >= 1 compression threads (the output
 * does not depend on their number). @out_payload_size receives the payload's exact length. */
gboolean ostick_encode_part_zstd(const char *xz_path, const char *zst_path, int level,
	guint workers, guint64 size_hint, OstickBranchChoice branches, gboolean *out_x86,
	guint64 *out_payload_size, GCancellable *cancellable, GError **error);

G_END_DECLS
