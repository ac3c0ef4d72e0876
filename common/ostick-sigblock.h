/* ostick-sigblock.h: the signature block member (FORMAT.md §4), byte by byte. */
#pragma once

#include "ostick-sign.h"

#include <glib.h>

G_BEGIN_DECLS

/* Serializes @n_sigs signatures (1..OSTICK_SIG_MAX_COUNT) into a signature block.
 * (transfer full) */
GBytes *ostick_sigblock_serialize(const OstickSignature *sigs, guint n_sigs);

/* Parses a signature block. Checks structure only (magic, version, count, size, reserved bytes,
 * duplicate key IDs); it verifies nothing. On success @out_sigs is an array of OstickSignature
 * (transfer full). Errors: OSTICK_ERROR_FORMAT, OSTICK_ERROR_VERSION. */
gboolean ostick_sigblock_parse(const guint8 *buf, gsize len, GArray **out_sigs, GError **error);

G_END_DECLS
