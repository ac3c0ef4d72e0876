/* pack.h: turn a generated delta directory into a signed bundle file. */
#pragma once

#include "encode.h"
#include "ostick-manifest.h"
#include "ostick-progress.h"

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
	const char *encoding; /* of the parts: OSTICK_ENCODING_ZSTD or OSTICK_ENCODING_OSTREE_XZ */
	int zstd_level;
	OstickBranchChoice branches; /* zstd only */
} OstickPackOptions;

/* Reads the delta in @dir (superblock + parts, as libostree wrote them), sets the superblock's
 * generation time to @created (reproducible bundles), checks it is a complete offline delta,
 * encodes the parts as @options say (zstd: each part N becomes N.zst), and fills @manifest's
 * superblock and part entries. @out_superblock receives the superblock bytes to pack. */
gboolean ostick_pack_describe_delta(const char *dir, guint64 created,
	const OstickPackOptions *options, OstickManifest *manifest, GBytes **out_superblock,
	GCancellable *cancellable, GError **error);

/* Signs @manifest_bytes with each EVP_PKEY in @keys: the signature block member. */
GBytes *ostick_pack_sign(GBytes *manifest_bytes, GPtrArray *keys, GError **error);

/* Writes the bundle to @output (appearing only when complete; an existing file is an error
 * unless @overwrite). @progress, if set, gets OSTICK_STAGE_PACK events. */
gboolean ostick_pack_write(const char *output, gboolean overwrite, gint64 mtime,
	GBytes *manifest_bytes, GBytes *sigblock, GBytes *superblock, const char *dir,
	const OstickManifest *manifest, OstickProgressFunc progress, gpointer user_data,
	GCancellable *cancellable, GError **error);

G_END_DECLS
