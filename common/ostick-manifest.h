/* ostick-manifest.h: the bundle manifest (FORMAT.md §3), a GKeyFile text signed byte for byte. */
#pragma once

#include "ostick-format.h"
#include "ostick-hash.h"

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* One payload member as the manifest describes it. */
typedef struct {
	guint64 size; /* bytes of the tar member */
	char sha256[OSTICK_SHA256_HEX_LEN + 1]; /* of the tar member's bytes */
	char *encoding; /* OSTICK_ENCODING_* */
	guint64 decoded_size; /* parts: libostree's uncompressed size (the part header's) */
	guint64 payload_size; /* zstd and zstd-x86 parts: exact bytes of the decoded payload; else 0 */
} OstickMember;

typedef struct {
	guint format;
	char *created; /* ISO 8601 UTC, e.g. 2026-11-23T10:00:00Z */
	GStrv required_features;
	char *compatible;
	char *version;
	char *os;
	char *ref;
	char *description; /* optional, NULL if absent */
	char target[OSTICK_SHA256_HEX_LEN + 1];
	guint64 target_timestamp;
	char base[OSTICK_SHA256_HEX_LEN + 1]; /* empty string for a from-scratch bundle */
	guint64 install_size; /* bytes of new repo objects, rounded per object */
	OstickMember superblock;
	guint n_parts;
	OstickMember *parts;
} OstickManifest;

OstickManifest *ostick_manifest_new(void);
void ostick_manifest_free(OstickManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickManifest, ostick_manifest_free)

/* Allocates @n_parts zeroed part entries (replacing any). */
void ostick_manifest_set_n_parts(OstickManifest *manifest, guint n_parts);

/* TRUE for a delta bundle (a base commit is named). */
gboolean ostick_manifest_is_delta(const OstickManifest *manifest);

/* Checks every rule of FORMAT.md §3 on a manifest in memory. Errors: OSTICK_ERROR_FORMAT,
 * OSTICK_ERROR_VERSION (format, feature or encoding not supported). */
gboolean ostick_manifest_validate(const OstickManifest *manifest, GError **error);

/* Checks the identity fields only (all but the payload): for a manifest being built. */
gboolean ostick_manifest_validate_identity(const OstickManifest *manifest, GError **error);

/* Validates, then writes the canonical text: fixed key order, so the same manifest always gives
 * the same bytes. (transfer full) */
GBytes *ostick_manifest_serialize(const OstickManifest *manifest, GError **error);

/* Parses and validates manifest text (at most OSTICK_MANIFEST_MAX_SIZE bytes, UTF-8, no NUL, no
 * repeated group or key). Unknown optional keys and groups are ignored.
 * Errors: OSTICK_ERROR_FORMAT, OSTICK_ERROR_VERSION. (transfer full) */
OstickManifest *ostick_manifest_parse(const guint8 *data, gsize len, GError **error);

/* Adds the manifest's fields as members of the JSON object being built in @builder. */
void ostick_manifest_add_json(const OstickManifest *manifest, JsonBuilder *builder);

/* The tar member name of part @index ("delta/<index>"). (transfer full) */
char *ostick_part_member_name(guint index);

/* Whether @encoding (a [part.N] encoding) is one zstd frame: `zstd` or `zstd-x86`. */
gboolean ostick_encoding_is_zstd(const char *encoding);
/* Whether it is `zstd-x86`, whose frame holds the payload after the x86 branch conversion
 * (FORMAT.md §5.8). */
gboolean ostick_encoding_has_x86_branches(const char *encoding);

G_END_DECLS
