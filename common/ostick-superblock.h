/* ostick-superblock.h: libostree static-delta superblocks, read and (one part at a time) rebuilt.
 *
 * The superblock is the GVariant (a{sv}tayay(commit)aya(uayttay)a(yaytt)) that libostree writes
 * as `superblock`; FORMAT.md §5 lists what ostick requires of it. The applier runs a delta one
 * part at a time through libostree's own executor, each part inline in a one-part superblock
 * derived from the verified one; ostick_superblock_layout_single_part() lays that out so the part
 * can be streamed into place without holding it in memory.
 */
#pragma once

#include "ostick-manifest.h"

#include <glib.h>

G_BEGIN_DECLS

#define OSTICK_SUPERBLOCK_TYPE_STRING "(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))"
#define OSTICK_DELTAPART_MAX_VERSION 0 /* libostree 2022.7's OSTREE_DELTAPART_VERSION */
#define OSTICK_DELTA_OBJECT_RECORD_LEN 33 /* object type byte + SHA-256 */
/* A part's compression byte for "none": the byte 0 (libostree's case 0), not the character. */
#define OSTICK_DELTA_PART_UNCOMPRESSED ((const guint8[]){0})
/* A part's compression byte for xz (libostree's case 'x'). */
#define OSTICK_DELTA_PART_XZ ((const guint8[]){'x'})

typedef struct _OstickSuperblock OstickSuperblock;

typedef struct {
	guint32 version;
	char checksum[OSTICK_SHA256_HEX_LEN + 1]; /* SHA-256 of the part file */
	guint64 size; /* part file bytes */
	guint64 uncompressed_size; /* payload once decompressed */
	guint n_objects;
} OstickDeltaPartInfo;

/* Parses and checks a superblock (normal form, type, endianness marker, no fallback objects, no
 * inline parts, part headers well formed). Keeps a reference to @bytes.
 * Error: OSTICK_ERROR_FORMAT. (transfer full) */
OstickSuperblock *ostick_superblock_parse(GBytes *bytes, GError **error);
void ostick_superblock_free(OstickSuperblock *superblock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickSuperblock, ostick_superblock_free)

/* Base commit, or NULL for a from-scratch delta. (transfer none) */
const char *ostick_superblock_get_from(const OstickSuperblock *superblock);
/* Target commit. (transfer none) */
const char *ostick_superblock_get_to(const OstickSuperblock *superblock);
/* The target commit object, as carried in the superblock. (transfer none) */
GVariant *ostick_superblock_get_commit(const OstickSuperblock *superblock);
guint ostick_superblock_get_n_parts(const OstickSuperblock *superblock);
void ostick_superblock_get_part(
	const OstickSuperblock *superblock, guint index, OstickDeltaPartInfo *out_info);
/* The raw 33-byte object records of part @index. (transfer none) */
const guint8 *ostick_superblock_get_part_objects(
	const OstickSuperblock *superblock, guint index, gsize *out_len);

/* Checks that the superblock says what the signed manifest says: base, target, the target commit
 * object hashing to the target checksum, its timestamp, the part count, and each ostree-xz part's
 * size, SHA-256 and decoded size. Error: OSTICK_ERROR_FORMAT. */
gboolean ostick_superblock_check_manifest(
	const OstickSuperblock *superblock, const OstickManifest *manifest, GError **error);

/* The key libostree looks up for inline part @index of the delta @from (NULL: scratch) -> @to:
 * "deltas/<from b64>-<to b64>/<index>". (transfer full) */
char *ostick_delta_part_key(const char *from, const char *to, guint index);

/* Lays out a one-part superblock for part @index whose inline (yay) value is @yay_len bytes
 * (the compression byte, then the payload). The file is @out_prefix, then the @yay_len bytes,
 * then @out_suffix. Same metadata, commit and header as the original, in GVariant normal form.
 * (transfer full) */
void ostick_superblock_layout_single_part(const OstickSuperblock *superblock, guint index,
	guint64 yay_len, GBytes **out_prefix, GBytes **out_suffix);

/* A superblock for part @index alone, read from a separate part file: the original's metadata,
 * commit and part header, but with @size and @sha256 (OSTICK_SHA256_LEN bytes) for the part file
 * libostree will read, and @position empty headers (no objects: libostree skips them without
 * opening their file) in front, so that libostree opens that part as file number @position.
 * No fallbacks. (transfer full) */
GBytes *ostick_superblock_build_streamed(const OstickSuperblock *superblock, guint index,
	guint position, const guint8 *sha256, guint64 size);

/* Overwrites the superblock's generation timestamp in @data (a serialized superblock) with
 * @unix_time, so that bundles can be reproducible. @data must be a superblock
 * that ostick_superblock_parse() accepted. */
void ostick_superblock_set_timestamp(guint8 *data, gsize len, guint64 unix_time);

G_END_DECLS
