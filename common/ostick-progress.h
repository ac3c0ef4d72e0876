/* ostick-progress.h: progress reports shared by the tools: the event a long operation emits, and
 * text renderings of it (a TTY bar, a JSON line). Formatting only: the tools print. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	OSTICK_STAGE_VERIFY, /* signature and manifest */
	OSTICK_STAGE_CHECK, /* policy: compatible, base, downgrade, space */
	OSTICK_STAGE_APPLY, /* payload into the repo */
	OSTICK_STAGE_COMMIT, /* completeness check, ref, transaction commit */
	OSTICK_STAGE_DEPLOY, /* deployment, /etc merge, bootloader */
	OSTICK_STAGE_CLEANUP, /* prune, keeping the rollback */
	OSTICK_STAGE_GENERATE, /* bundler: static delta generation */
	OSTICK_STAGE_ENCODE, /* bundler: part encoding (zstd) */
	OSTICK_STAGE_PACK, /* bundler: hashing, signing, writing */
	OSTICK_STAGE_DONE,
} OstickStage;

typedef struct {
	OstickStage stage;
	guint64 bytes_done;
	guint64 bytes_total;
	guint parts_done;
	guint parts_total;
	gint64 elapsed_us; /* since the operation started */
} OstickProgress;

typedef void (*OstickProgressFunc)(const OstickProgress *progress, gpointer user_data);

/* "verify", "apply", ... */
const char *ostick_stage_name(OstickStage stage);

/* One terminal line (no newline) of at most @columns characters:
 * "apply  45% [#####.....] 120.3 MB / 267.0 MB  part 3/9  12.3 MB/s  ETA 0:12". (transfer full) */
char *ostick_progress_format_bar(const OstickProgress *progress, guint columns);

/* One JSON object (no newline): {"event":"progress","stage":"apply","bytes_done":...}. (transfer full) */
char *ostick_progress_format_json(const OstickProgress *progress);

G_END_DECLS
