/* ostick-internal.h: what libostick's own files share about the public handles. */
#pragma once

#include "ostick.h"

G_BEGIN_DECLS

/* Positions @bundle for a read from its start (rewinding a file read before) and returns its
 * descriptor (borrowed), or -1 with @error set: G_IO_ERROR_NOT_SUPPORTED for a stream that was
 * already read. */
int ostick_bundle_begin_read(OstickBundle *bundle, GError **error);

G_END_DECLS
