/* apply.h: stream a verified bundle's delta into the device repo, one part at a time, through
 * libostree's own delta executor, in one repo transaction. */
#pragma once

#include "ostick-bundle-reader.h"
#include "ostick-progress.h"
#include "staging.h"

#include <gio/gio.h>
#include <ostree.h>

G_BEGIN_DECLS

typedef struct {
	OstickProgressFunc progress;
	gpointer progress_data;
	gint64 start_us; /* for progress elapsed times */
	gboolean set_ref; /* set the manifest's ref to the target inside the transaction */
	guint64 peak_staging; /* out: largest staging file written (bytes) */
	/* out, after a commit: the objects it added (NULL if not known), for the caller to take
	 * back out if what follows fails; the caller frees it */
	OstickAddedObjects *added_objects;
} OstickApplyOptions;

/* Reads every part from @reader (positioned after the superblock), each into an anonymous
 * staging file on the repo's filesystem holding a one-part superblock, hash-checked before
 * libostree executes it; then checks the archive ends, that the target commit is complete, sets
 * the ref (if asked) and commits the transaction. The target is marked partial until then. On
 * any failure the transaction is aborted: no ref moves, nothing staged remains, and objects a
 * commit cut short had already moved into the repo are removed again. */
gboolean ostick_apply_delta(OstreeRepo *repo, OstickBundleReader *reader,
	const OstickSuperblock *superblock, OstickApplyOptions *options, GCancellable *cancellable,
	GError **error);

G_END_DECLS
