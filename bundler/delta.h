/* delta.h: static-delta generation and sizing on the host, through libostree's public API. */
#pragma once

#include <gio/gio.h>
#include <ostree.h>

G_BEGIN_DECLS

typedef struct {
	guint max_part_mb; /* libostree max-chunk-size; an object is never split */
	gboolean bsdiff; /* binary diffs for modified files (deltas only) */
	gboolean reencoded; /* the parts will be decoded and re-encoded: their xz can be fast */
} OstickDeltaOptions;

/* The xz preset of the delta parts libostree generates from now on (-1: libostree's own, 8),
 * through the lzma_easy_encoder() ostick-bundle exports (xz-preset.c). */
void ostick_delta_override_xz_preset(int preset);
/* How many xz streams the override has applied to: 0 means libostree did not bind to it. */
guint ostick_delta_xz_overridden_count(void);

/* Generates the delta @from (NULL: from scratch) -> @to of @repo into the existing empty
 * directory @dir as `superblock` and parts `0`..`N-1`. Fallback objects are disabled: an offline
 * bundle must carry every object. */
gboolean ostick_delta_generate(OstreeRepo *repo, const char *from, const char *to,
	const OstickDeltaOptions *options, const char *dir, GCancellable *cancellable,
	GError **error);

/* Bytes the objects of @to that @from lacks take in a bare repo, each object rounded up to a
 * 4 KiB block: what a device needs free to apply the delta (FORMAT.md §3.3 install-size). */
gboolean ostick_delta_install_size(OstreeRepo *repo, const char *from, const char *to,
	guint64 *out_size, GCancellable *cancellable, GError **error);

/* Resolves @rev (ref, ref^, or checksum) in @repo to a complete commit. G_IO_ERROR_NOT_FOUND if
 * there is no such ref or commit, or the commit is partial. (transfer full) */
char *ostick_repo_resolve_commit(OstreeRepo *repo, const char *rev, GError **error);

/* Opens the OSTree repository at @path; G_IO_ERROR_NOT_FOUND if there is none. */
OstreeRepo *ostick_repo_open(const char *path, GCancellable *cancellable, GError **error);

G_END_DECLS
