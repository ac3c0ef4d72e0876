/* ostick-progress.h: progress reports shared by the tools: the event a long operation emits, and
 * text renderings of it (a TTY bar, a JSON line). Formatting only: the tools print. */
#pragma once

#include "ostick.h"

#include <glib.h>

G_BEGIN_DECLS

/* One terminal line (no newline) of at most @columns characters:
 * "apply  45% [#####.....] 120.3 MB / 267.0 MB  part 3/9  12.3 MB/s  ETA 0:12". (transfer full) */
char *ostick_progress_format_bar(const OstickProgress *progress, guint columns);

/* One JSON object (no newline): {"event":"progress","stage":"apply","bytes_done":...}. (transfer full) */
char *ostick_progress_format_json(const OstickProgress *progress);

G_END_DECLS
