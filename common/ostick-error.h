/* ostick-error.h: the one error domain of ostick, and throw helpers.
 *
 * The domain, its codes and the exit codes are public (ostick.h). Errors carry only the codes a caller acts on. System calls report G_IO_ERROR with the
 * errno text; libostree and GLib errors pass through with context prefixed once per layer.
 */
#pragma once

#include "ostick.h"

#include <glib.h>

G_BEGIN_DECLS

/* Sets @error to (OSTICK_ERROR, @code, printf-style message) and returns FALSE. */
gboolean ostick_throw(GError **error, OstickErrorCode code, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

/* Sets @error from the current errno (G_IO_ERROR, code from errno) with the message
 * "<fmt>: <strerror>" and returns FALSE. errno is preserved. */
gboolean ostick_throw_errno(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Like ostick_throw_errno() for an explicit errno value. */
gboolean ostick_throw_errno_value(GError **error, int errsv, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

G_END_DECLS
