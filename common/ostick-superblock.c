/* ostick-superblock.c: static-delta superblock parsing, checks and one-part rebuilding. */
#include "ostick-superblock.h"

#include "ostick-error.h"
#include "ostick-hash.h"

#include <ostree.h>
#include <string.h>

#define INLINE_PART_TYPE "(yay)"
#define SUPERBLOCK_VAR_MEMBERS 6 /* members 0,2,3,4,5,6 end with a framing offset */

struct _OstickSuperblock {
	GBytes *bytes;
	GVariant *variant;
	GVariant *metadata;
	GVariant *commit;
	GVariant *headers;
	char *from;
	char to[OSTICK_SHA256_HEX_LEN + 1];
	GArray *parts; /* OstickDeltaPartInfo */
	gboolean swap; /* its numbers are in the other byte order (ostree.endianness) */
};

void
ostick_superblock_free(OstickSuperblock *sb)
{
	if (sb == NULL)
		return;
	g_clear_pointer(&sb->metadata, g_variant_unref);
	g_clear_pointer(&sb->commit, g_variant_unref);
	g_clear_pointer(&sb->headers, g_variant_unref);
	g_clear_pointer(&sb->variant, g_variant_unref);
	g_clear_pointer(&sb->bytes, g_bytes_unref);
	g_clear_pointer(&sb->parts, g_array_unref);
	g_free(sb->from);
	g_free(sb);
}

static char *
delta_path(const char *from, const char *to, const char *target)
{
	guint8 bytes[OSTICK_SHA256_LEN];
	char to_b64[44], from_b64[44];
	GString *path = g_string_new("deltas/");

	ostree_checksum_inplace_to_bytes(to, bytes);
	ostree_checksum_b64_inplace_from_bytes(bytes, to_b64);
	if (from != NULL) {
		ostree_checksum_inplace_to_bytes(from, bytes);
		ostree_checksum_b64_inplace_from_bytes(bytes, from_b64);
		g_string_append_printf(path, "%.2s/%s-", from_b64, from_b64 + 2);
		g_string_append_printf(path, "%.2s%s", to_b64, to_b64 + 2);
	} else {
		g_string_append_printf(path, "%.2s/%s", to_b64, to_b64 + 2);
	}
	g_string_append_printf(path, "/%s", target);
	return g_string_free(path, FALSE);
}

char *
ostick_delta_part_key(const char *from, const char *to, guint index)
{
	g_autofree char *target = g_strdup_printf("%u", index);

	return delta_path(from, to, target);
}

static gboolean
read_checksum(GVariant *bytes_v, gboolean allow_empty, char **out_hex, GError **error)
{
	gsize len = g_variant_get_size(bytes_v);
	char hex[OSTICK_SHA256_HEX_LEN + 1];

	if (len == 0 && allow_empty) {
		*out_hex = NULL;
		return TRUE;
	}
	if (len != OSTICK_SHA256_LEN)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "checksum of %zu bytes", len);
	ostick_hex_encode(g_variant_get_data(bytes_v), OSTICK_SHA256_LEN, hex);
	*out_hex = g_strdup(hex);
	return TRUE;
}

/* libostree writes part header integers in the generator's byte order and says which. */
static gboolean
get_swap_endian(GVariant *metadata, gboolean *out_swap, GError **error)
{
	guint8 marker = 0;

	if (!g_variant_lookup(metadata, "ostree.endianness", "y", &marker))
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "no ostree.endianness marker");
	if (marker != 'l' && marker != 'B')
		return ostick_throw(
			error, OSTICK_ERROR_FORMAT, "bad ostree.endianness '%c'", marker);
	*out_swap = (marker == 'l') != (G_BYTE_ORDER == G_LITTLE_ENDIAN);
	return TRUE;
}

static gboolean
parse_part_header(GVariant *header, gboolean swap, OstickDeltaPartInfo *out, GError **error)
{
	g_autoptr(GVariant) csum_v = NULL;
	g_autoptr(GVariant) objects = NULL;
	g_autofree char *checksum = NULL;
	OstickDeltaPartInfo info = {0};

	g_variant_get(header, "(u@aytt@ay)", &info.version, &csum_v, &info.size,
		&info.uncompressed_size, &objects);
	if (swap) {
		info.version = GUINT32_SWAP_LE_BE(info.version);
		info.size = GUINT64_SWAP_LE_BE(info.size);
		info.uncompressed_size = GUINT64_SWAP_LE_BE(info.uncompressed_size);
	}
	if (info.version > OSTICK_DELTAPART_MAX_VERSION)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "part version %u", info.version);
	if (!read_checksum(csum_v, FALSE, &checksum, error))
		return FALSE;
	memcpy(info.checksum, checksum, sizeof info.checksum);
	if (g_variant_get_size(objects) % OSTICK_DELTA_OBJECT_RECORD_LEN != 0)
		return ostick_throw(
			error, OSTICK_ERROR_FORMAT, "object list not in 33-byte records");
	info.n_objects = (guint)(g_variant_get_size(objects) / OSTICK_DELTA_OBJECT_RECORD_LEN);
	*out = info;
	return TRUE;
}

static gboolean
parse_headers(OstickSuperblock *sb, GError **error)
{
	gsize n = g_variant_n_children(sb->headers);

	if (!get_swap_endian(sb->metadata, &sb->swap, error))
		return FALSE;
	if (n == 0 || n > OSTICK_PARTS_MAX)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "%zu parts (allowed 1..%d)", n,
			OSTICK_PARTS_MAX);
	sb->parts = g_array_sized_new(FALSE, TRUE, sizeof(OstickDeltaPartInfo), (guint)n);
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) header = g_variant_get_child_value(sb->headers, i);
		OstickDeltaPartInfo info;

		if (!parse_part_header(header, sb->swap, &info, error)) {
			g_prefix_error(error, "part %zu: ", i);
			return FALSE;
		}
		g_array_append_val(sb->parts, info);
	}
	return TRUE;
}

/* Parts must be separate members (hashed by the manifest); only the detached commit metadata
 * may ride in the superblock's metadata under deltas/ (FORMAT.md §5). */
static gboolean
check_metadata_keys(const OstickSuperblock *sb, GError **error)
{
	g_autofree char *commitmeta = delta_path(sb->from, sb->to, "commitmeta");
	GVariantIter iter;
	const char *key;

	g_variant_iter_init(&iter, sb->metadata);
	while (g_variant_iter_next(&iter, "{&sv}", &key, NULL)) {
		if (g_str_has_prefix(key, "deltas/") && strcmp(key, commitmeta) != 0)
			return ostick_throw(error, OSTICK_ERROR_FORMAT,
				"inline delta data '%s' is not allowed", key);
	}
	return TRUE;
}

static gboolean
parse_fields(OstickSuperblock *sb, GError **error)
{
	g_autoptr(GVariant) from_v = g_variant_get_child_value(sb->variant, 2);
	g_autoptr(GVariant) to_v = g_variant_get_child_value(sb->variant, 3);
	g_autoptr(GVariant) recurse = g_variant_get_child_value(sb->variant, 5);
	g_autoptr(GVariant) fallback = g_variant_get_child_value(sb->variant, 7);
	g_autofree char *to = NULL;

	sb->metadata = g_variant_get_child_value(sb->variant, 0);
	sb->commit = g_variant_get_child_value(sb->variant, 4);
	sb->headers = g_variant_get_child_value(sb->variant, 6);
	if (!read_checksum(from_v, TRUE, &sb->from, error) ||
		!read_checksum(to_v, FALSE, &to, error))
		return FALSE;
	memcpy(sb->to, to, sizeof sb->to);
	if (g_variant_n_children(recurse) != 0)
		return ostick_throw(
			error, OSTICK_ERROR_FORMAT, "recursive deltas are not supported");
	/* Fallback objects are fetched over HTTP by libostree: an offline bundle must carry all. */
	if (g_variant_n_children(fallback) != 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"%zu fallback objects: an offline bundle must carry every object",
			g_variant_n_children(fallback));
	return check_metadata_keys(sb, error) && parse_headers(sb, error);
}

OstickSuperblock *
ostick_superblock_parse(GBytes *bytes, GError **error)
{
	g_autoptr(OstickSuperblock) sb = g_new0(OstickSuperblock, 1);

	g_return_val_if_fail(bytes != NULL, NULL);
	if (g_bytes_get_size(bytes) > OSTICK_SUPERBLOCK_MAX_SIZE) {
		ostick_throw(error, OSTICK_ERROR_FORMAT,
			"superblock larger than %" G_GUINT64_FORMAT, OSTICK_SUPERBLOCK_MAX_SIZE);
		return NULL;
	}
	sb->bytes = g_bytes_ref(bytes);
	sb->variant = g_variant_ref_sink(g_variant_new_from_bytes(
		G_VARIANT_TYPE(OSTICK_SUPERBLOCK_TYPE_STRING), bytes, FALSE));
	/* Normal form: one meaning for GLib, libostree and us, and no out-of-range offsets. */
	if (!g_variant_is_normal_form(sb->variant)) {
		ostick_throw(error, OSTICK_ERROR_FORMAT, "superblock is not a valid GVariant %s",
			OSTICK_SUPERBLOCK_TYPE_STRING);
		return NULL;
	}
	if (!parse_fields(sb, error)) {
		g_prefix_error(error, "superblock: ");
		return NULL;
	}
	return g_steal_pointer(&sb);
}

const char *
ostick_superblock_get_from(const OstickSuperblock *sb)
{
	return sb->from;
}

const char *
ostick_superblock_get_to(const OstickSuperblock *sb)
{
	return sb->to;
}

GVariant *
ostick_superblock_get_commit(const OstickSuperblock *sb)
{
	return sb->commit;
}

guint
ostick_superblock_get_n_parts(const OstickSuperblock *sb)
{
	return sb->parts->len;
}

void
ostick_superblock_get_part(const OstickSuperblock *sb, guint index, OstickDeltaPartInfo *out_info)
{
	g_return_if_fail(index < sb->parts->len);
	*out_info = g_array_index(sb->parts, OstickDeltaPartInfo, index);
}

const guint8 *
ostick_superblock_get_part_objects(const OstickSuperblock *sb, guint index, gsize *out_len)
{
	g_autoptr(GVariant) header = g_variant_get_child_value(sb->headers, index);
	g_autoptr(GVariant) objects = g_variant_get_child_value(header, 4);

	/* Borrowed from sb->bytes, which outlives these temporaries. */
	*out_len = g_variant_get_size(objects);
	return g_variant_get_data(objects);
}

/* FORMAT.md §5.3. An ostree-xz member is libostree's part file itself: its header's size and
 * SHA-256 name it. A zstd member re-encodes it, so only the uncompressed size can agree. */
static gboolean
check_part(const OstickDeltaPartInfo *info, const OstickMember *member, guint index, GError **error)
{
	gboolean stock = g_str_equal(member->encoding, OSTICK_ENCODING_OSTREE_XZ);

	if (stock && info->size != member->size)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"part %u: superblock size %" G_GUINT64_FORMAT
			" disagrees with the manifest's %" G_GUINT64_FORMAT,
			index, info->size, member->size);
	if (stock && strcmp(info->checksum, member->sha256) != 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"part %u: superblock SHA-256 %.16s… disagrees with the manifest's "
			"%.16s…",
			index, info->checksum, member->sha256);
	if (info->uncompressed_size != member->decoded_size)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"part %u: superblock uncompressed size %" G_GUINT64_FORMAT
			" disagrees with the manifest's decoded-size %" G_GUINT64_FORMAT,
			index, info->uncompressed_size, member->decoded_size);
	return TRUE;
}

static gboolean
check_commit(const OstickSuperblock *sb, const OstickManifest *manifest, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	char actual[OSTICK_SHA256_HEX_LEN + 1];

	if (!ostree_validate_structureof_commit(sb->commit, &local_error))
		return ostick_throw(
			error, OSTICK_ERROR_FORMAT, "commit object: %s", local_error->message);
	/* An OSTree commit's name is the SHA-256 of its serialized (normal form) object. */
	ostick_sha256_hex(g_variant_get_data(sb->commit), g_variant_get_size(sb->commit), actual);
	if (strcmp(actual, manifest->target) != 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"the commit object hashes to %s, not to the target %s", actual,
			manifest->target);
	if (ostree_commit_get_timestamp(sb->commit) != manifest->target_timestamp)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"commit timestamp %" G_GUINT64_FORMAT
			" differs from the manifest's %" G_GUINT64_FORMAT,
			ostree_commit_get_timestamp(sb->commit), manifest->target_timestamp);
	return TRUE;
}

gboolean
ostick_superblock_check_manifest(
	const OstickSuperblock *sb, const OstickManifest *manifest, GError **error)
{
	const char *base = manifest->base[0] ? manifest->base : NULL;

	g_return_val_if_fail(sb != NULL && manifest != NULL, FALSE);
	if (g_strcmp0(sb->from, base) != 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"superblock base %s differs from the manifest's %s",
			sb->from ? sb->from : "(scratch)", base ? base : "(scratch)");
	if (strcmp(sb->to, manifest->target) != 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"superblock target %s differs from the manifest's %s", sb->to,
			manifest->target);
	if (!check_commit(sb, manifest, error))
		return FALSE;
	if (sb->parts->len != manifest->n_parts)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"superblock has %u parts, the manifest %u", sb->parts->len,
			manifest->n_parts);
	for (guint i = 0; i < manifest->n_parts; i++) {
		if (!check_part(&g_array_index(sb->parts, OstickDeltaPartInfo, i),
			    &manifest->parts[i], i, error))
			return FALSE;
	}
	return TRUE;
}

/*
 * One-part superblock layout. GVariant serialization, as GLib does it (and as the unit test
 * checks byte for byte against GLib): members and elements are padded to their alignment;
 * a container ends with framing offsets whose width (1, 2, 4 or 8 bytes) is the smallest that
 * can address the whole container. Tuples store the end of each non-last variable-sized member,
 * last member's first; arrays of variable-sized elements store every element's end, in order.
 */
static guint64
align8(guint64 offset)
{
	return (offset + 7) & ~(guint64)7;
}

static guint
offset_width(guint64 total)
{
	if (total > G_MAXUINT32)
		return 8;
	if (total > G_MAXUINT16)
		return 4;
	if (total > G_MAXUINT8)
		return 2;
	return total > 0 ? 1 : 0;
}

static guint64
container_size(guint64 body, guint n_offsets)
{
	if (body + 1 * (guint64)n_offsets <= G_MAXUINT8)
		return body + n_offsets;
	if (body + 2 * (guint64)n_offsets <= G_MAXUINT16)
		return body + 2 * (guint64)n_offsets;
	if (body + 4 * (guint64)n_offsets <= G_MAXUINT32)
		return body + 4 * (guint64)n_offsets;
	return body + 8 * (guint64)n_offsets;
}

/* An output buffer that knows the absolute file offset of its first byte. */
typedef struct {
	GByteArray *buf;
	guint64 base;
} Out;

static guint64
out_pos(const Out *out)
{
	return out->base + out->buf->len;
}

static void
out_write(Out *out, const void *data, gsize len)
{
	g_byte_array_append(out->buf, data, (guint)len);
}

static void
out_pad8(Out *out)
{
	static const guint8 zeros[8] = {0};

	out_write(out, zeros, align8(out_pos(out)) - out_pos(out));
}

static void
out_offset(Out *out, guint64 value, guint width)
{
	guint8 le[8];

	for (guint i = 0; i < width; i++)
		le[i] = (value >> (8 * i)) & 0xff;
	out_write(out, le, width);
}

static void
out_variant(Out *out, GVariant *value)
{
	out_write(out, g_variant_get_data(value), g_variant_get_size(value));
}

/* Sizes of the new metadata entry {s: <(yay)>}, relative to the entry's start. */
typedef struct {
	char *key;
	guint64 value_offset; /* where the variant starts */
	guint64 total; /* including its framing offset */
} InlineEntry;

static void
plan_inline_entry(const OstickSuperblock *sb, guint64 yay_len, InlineEntry *entry)
{
	guint64 key_size, body;

	entry->key = ostick_delta_part_key(sb->from, sb->to, 0);
	key_size = strlen(entry->key) + 1;
	entry->value_offset = align8(key_size);
	body = entry->value_offset + yay_len + 1 + strlen(INLINE_PART_TYPE);
	entry->total = container_size(body, 1);
}

/* Writes the metadata dict up to the inline value's first byte into @prefix, and returns the
 * element end offsets (the last one being the inline entry's). */
static GArray *
write_metadata_head(const OstickSuperblock *sb, const InlineEntry *entry, Out *prefix)
{
	GArray *ends = g_array_new(FALSE, FALSE, sizeof(guint64));
	gsize n = g_variant_n_children(sb->metadata);
	guint64 end;

	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) child = g_variant_get_child_value(sb->metadata, i);

		out_pad8(prefix);
		out_variant(prefix, child);
		end = out_pos(prefix);
		g_array_append_val(ends, end);
	}
	out_pad8(prefix);
	end = out_pos(prefix) + entry->total;
	g_array_append_val(ends, end);
	out_write(prefix, entry->key, strlen(entry->key) + 1);
	out_pad8(prefix);
	return ends;
}

static void
write_metadata_tail(const InlineEntry *entry, GArray *ends, Out *suffix)
{
	guint64 key_end = strlen(entry->key) + 1;
	guint64 meta_body = g_array_index(ends, guint64, ends->len - 1);
	guint meta_width = offset_width(container_size(meta_body, ends->len));

	out_write(suffix, "", 1);
	out_write(suffix, INLINE_PART_TYPE, strlen(INLINE_PART_TYPE));
	out_offset(suffix, key_end, offset_width(entry->total));
	for (guint i = 0; i < ends->len; i++)
		out_offset(suffix, g_array_index(ends, guint64, i), meta_width);
}

/* Members 1..7 of the superblock tuple after the metadata dict, then its framing offsets. */
static void
write_tuple_rest(const OstickSuperblock *sb, guint index, Out *suffix)
{
	g_autoptr(GVariant) header = g_variant_get_child_value(sb->headers, index);
	g_autoptr(GVariant) headers =
		g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("(uayttay)"), &header, 1));
	guint64 ends[SUPERBLOCK_VAR_MEMBERS];
	guint n_ends = 0;
	guint width;

	ends[n_ends++] = out_pos(suffix); /* end of member 0, the metadata dict */
	out_pad8(suffix);
	for (gsize member = 1; member <= 5; member++) {
		g_autoptr(GVariant) child = g_variant_get_child_value(sb->variant, member);

		if (member == 4)
			out_pad8(suffix); /* the commit tuple is 8-aligned */
		out_variant(suffix, child);
		if (member != 1)
			ends[n_ends++] = out_pos(suffix);
	}
	out_pad8(suffix);
	out_variant(suffix, headers);
	ends[n_ends++] = out_pos(suffix);
	out_pad8(suffix); /* member 7: an empty fallback array, the last member */
	g_assert(n_ends == SUPERBLOCK_VAR_MEMBERS);
	width = offset_width(container_size(out_pos(suffix), SUPERBLOCK_VAR_MEMBERS));
	for (guint i = SUPERBLOCK_VAR_MEMBERS; i > 0; i--)
		out_offset(suffix, ends[i - 1], width);
}

void
ostick_superblock_layout_single_part(const OstickSuperblock *sb, guint index, guint64 yay_len,
	GBytes **out_prefix, GBytes **out_suffix)
{
	Out prefix = {g_byte_array_new(), 0};
	Out suffix = {g_byte_array_new(), 0};
	InlineEntry entry = {0};
	g_autoptr(GArray) ends = NULL;

	g_return_if_fail(index < sb->parts->len && yay_len >= 1);
	plan_inline_entry(sb, yay_len, &entry);
	ends = write_metadata_head(sb, &entry, &prefix);
	suffix.base = out_pos(&prefix) + yay_len;
	write_metadata_tail(&entry, ends, &suffix);
	write_tuple_rest(sb, index, &suffix);
	g_free(entry.key);
	*out_prefix = g_byte_array_free_to_bytes(prefix.buf);
	*out_suffix = g_byte_array_free_to_bytes(suffix.buf);
}

void
ostick_superblock_set_timestamp(guint8 *data, gsize len, guint64 unix_time)
{
	g_autoptr(GBytes) view = g_bytes_new_static(data, len);
	g_autoptr(GVariant) variant = g_variant_ref_sink(g_variant_new_from_bytes(
		G_VARIANT_TYPE(OSTICK_SUPERBLOCK_TYPE_STRING), view, FALSE));
	g_autoptr(GVariant) metadata = g_variant_get_child_value(variant, 0);
	guint64 offset = align8(g_variant_get_size(metadata));
	guint64 be = GUINT64_TO_BE(unix_time);

	g_return_if_fail(offset + sizeof be <= len);
	memcpy(data + offset, &be, sizeof be);
}

/* An empty part header: no objects, so libostree skips it without opening its file. */
static GVariant *
skipped_header(void)
{
	return g_variant_new("(u@aytt@ay)", 0,
		g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, NULL, 0, 1), (guint64)0, (guint64)0,
		g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, NULL, 0, 1));
}

GBytes *
ostick_superblock_build_streamed(
	const OstickSuperblock *sb, guint index, guint position, const guint8 *sha256, guint64 size)
{
	g_autoptr(GVariant) header = g_variant_get_child_value(sb->headers, index);
	g_autoptr(GVariant) version = g_variant_get_child_value(header, 0);
	g_autoptr(GVariant) usize = g_variant_get_child_value(header, 3);
	g_autoptr(GVariant) objects = g_variant_get_child_value(header, 4);
	g_auto(GVariantBuilder) headers;
	g_autoptr(GVariant) built = NULL;
	GVariant *members[8];

	g_return_val_if_fail(index < sb->parts->len, NULL);
	g_variant_builder_init(&headers, G_VARIANT_TYPE("a(uayttay)"));
	for (guint i = 0; i < position; i++)
		g_variant_builder_add_value(&headers, skipped_header());
	/* The original's version, sizes and objects, in its byte order; its own size and checksum. */
	g_variant_builder_add(&headers, "(@u@ayt@t@ay)", version,
		g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, sha256, OSTICK_SHA256_LEN, 1),
		sb->swap ? GUINT64_SWAP_LE_BE(size) : size, usize, objects);
	for (guint m = 0; m < 6; m++)
		members[m] = g_variant_get_child_value(sb->variant, m);
	members[6] = g_variant_builder_end(&headers);
	members[7] = g_variant_new_array(G_VARIANT_TYPE("(yaytt)"), NULL, 0);
	built = g_variant_ref_sink(g_variant_new_tuple(members, G_N_ELEMENTS(members)));
	for (guint m = 0; m < 6; m++)
		g_variant_unref(members[m]);
	return g_variant_get_data_as_bytes(built);
}
