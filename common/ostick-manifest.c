/* ostick-manifest.c: manifest text <-> OstickManifest, with every rule of FORMAT.md §3. */
#include "ostick-manifest.h"

#include "ostick-error.h"

#include <ostree.h>
#include <string.h>

#define GROUP_BUNDLE "bundle"
#define GROUP_PAYLOAD "payload"
#define GROUP_SUPERBLOCK "superblock"
#define PART_GROUP_PREFIX "part."

/* Required features this reader implements (FORMAT.md §3.4). None yet in format 1. */
static const char *const known_features[] = {NULL};

OstickManifest *
ostick_manifest_new(void)
{
	OstickManifest *manifest = g_new0(OstickManifest, 1);

	manifest->format = OSTICK_FORMAT_VERSION;
	return manifest;
}

static void
member_clear(OstickMember *member)
{
	g_clear_pointer(&member->encoding, g_free);
}

void
ostick_manifest_set_n_parts(OstickManifest *manifest, guint n_parts)
{
	for (guint i = 0; i < manifest->n_parts; i++)
		member_clear(&manifest->parts[i]);
	g_free(manifest->parts);
	manifest->parts = g_new0(OstickMember, n_parts);
	manifest->n_parts = n_parts;
}

void
ostick_manifest_free(OstickManifest *manifest)
{
	if (manifest == NULL)
		return;
	ostick_manifest_set_n_parts(manifest, 0);
	member_clear(&manifest->superblock);
	g_free(manifest->created);
	g_strfreev(manifest->required_features);
	g_free(manifest->compatible);
	g_free(manifest->version);
	g_free(manifest->os);
	g_free(manifest->ref);
	g_free(manifest->description);
	g_free(manifest->parts);
	g_free(manifest);
}

gboolean
ostick_manifest_is_delta(const OstickManifest *manifest)
{
	return manifest->base[0] != '\0';
}

char *
ostick_part_member_name(guint index)
{
	return g_strdup_printf(OSTICK_MEMBER_PART_PREFIX "%u", index);
}

/* Non-empty, at most @max bytes, UTF-8, no control characters (they would corrupt logs and
 * UIs). */
static gboolean
check_text(const char *key, const char *value, gsize max, GError **error)
{
	if (value == NULL || value[0] == '\0')
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "%s: missing or empty", key);
	if (strlen(value) > max)
		return ostick_throw(
			error, OSTICK_ERROR_FORMAT, "%s: longer than %zu bytes", key, max);
	if (!g_utf8_validate(value, -1, NULL))
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "%s: not UTF-8", key);
	/* C0, DEL and C1 (U+0080..U+009F: NEL, CSI) alike: a terminal acts on all of them. */
	for (const char *p = value; *p; p = g_utf8_next_char(p)) {
		if (g_unichar_iscntrl(g_utf8_get_char(p)))
			return ostick_throw(error, OSTICK_ERROR_FORMAT,
				"%s: contains a control character", key);
	}
	return TRUE;
}

/* The stateroot name becomes a directory under ostree/deploy/. */
static gboolean
check_os_name(const char *os, GError **error)
{
	if (!check_text("os", os, OSTICK_OS_MAX_LEN, error))
		return FALSE;
	if (!g_ascii_isalnum(os[0]))
		return ostick_throw(
			error, OSTICK_ERROR_FORMAT, "os: must start with a letter or digit");
	for (const char *p = os; *p; p++) {
		if (!g_ascii_isalnum(*p) && *p != '.' && *p != '_' && *p != '-')
			return ostick_throw(error, OSTICK_ERROR_FORMAT,
				"os: only letters, digits, '.', '_' and '-' allowed");
	}
	return TRUE;
}

static gboolean
check_features(GStrv features, GError **error)
{
	for (guint i = 0; features != NULL && features[i] != NULL; i++) {
		if (!g_strv_contains(known_features, features[i]))
			return ostick_throw(error, OSTICK_ERROR_VERSION,
				"required feature '%s' is not supported by this reader",
				features[i]);
	}
	return TRUE;
}

static gboolean
check_member(const char *name, const OstickMember *member, guint64 max_size,
	const char *const *encodings, GError **error)
{
	if (member->size == 0 || member->size > max_size)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"%s: size %" G_GUINT64_FORMAT " outside 1..%" G_GUINT64_FORMAT, name,
			member->size, max_size);
	if (!ostick_is_sha256_hex(member->sha256))
		return ostick_throw(
			error, OSTICK_ERROR_FORMAT, "%s: sha256 is not 64 hex digits", name);
	if (member->encoding == NULL)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "%s: no encoding", name);
	if (!g_strv_contains(encodings, member->encoding))
		return ostick_throw(error, OSTICK_ERROR_VERSION,
			"%s: encoding '%s' is not supported by this reader", name,
			member->encoding);
	if (member->decoded_size > OSTICK_PART_MAX_SIZE)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "%s: decoded-size too large", name);
	/* The decoder's output is bounded by this signed number (FORMAT.md §5.5). */
	if (ostick_encoding_is_zstd(member->encoding) &&
		(member->payload_size == 0 || member->payload_size > OSTICK_PART_MAX_SIZE))
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"%s: payload-size %" G_GUINT64_FORMAT " outside 1..%" G_GUINT64_FORMAT,
			name, member->payload_size, OSTICK_PART_MAX_SIZE);
	if (!ostick_encoding_is_zstd(member->encoding) && member->payload_size != 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"%s: payload-size is only for zstd parts", name);
	return TRUE;
}

static gboolean
check_commits(const OstickManifest *manifest, GError **error)
{
	if (!ostick_is_sha256_hex(manifest->target))
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "target: not a commit checksum");
	if (manifest->base[0] != '\0' && !ostick_is_sha256_hex(manifest->base))
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "base: not a commit checksum");
	if (strcmp(manifest->base, manifest->target) == 0)
		return ostick_throw(
			error, OSTICK_ERROR_FORMAT, "base and target are the same commit");
	return TRUE;
}

static gboolean
check_identity(const OstickManifest *manifest, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	g_autoptr(GDateTime) created = NULL;

	if (manifest->format != OSTICK_FORMAT_VERSION)
		return ostick_throw(error, OSTICK_ERROR_VERSION,
			"bundle format %u not supported (this reader knows %d)", manifest->format,
			OSTICK_FORMAT_VERSION);
	if (!check_features(manifest->required_features, error))
		return FALSE;
	if (manifest->created == NULL ||
		(created = g_date_time_new_from_iso8601(manifest->created, NULL)) == NULL)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "created: not an ISO 8601 time");
	if (!check_text("compatible", manifest->compatible, OSTICK_COMPATIBLE_MAX_LEN, error) ||
		!check_text("version", manifest->version, OSTICK_VERSION_MAX_LEN, error) ||
		!check_os_name(manifest->os, error) ||
		!check_text("ref", manifest->ref, OSTICK_REF_MAX_LEN, error))
		return FALSE;
	if (manifest->description != NULL &&
		!check_text("description", manifest->description, OSTICK_TEXT_MAX_LEN, error))
		return FALSE;
	if (!ostree_validate_rev(manifest->ref, &local_error))
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "ref: %s", local_error->message);
	return TRUE;
}

gboolean
ostick_manifest_validate_identity(const OstickManifest *manifest, GError **error)
{
	g_return_val_if_fail(manifest != NULL, FALSE);
	return check_identity(manifest, error) && check_commits(manifest, error);
}

gboolean
ostick_manifest_validate(const OstickManifest *manifest, GError **error)
{
	static const char *const superblock_encodings[] = {OSTICK_ENCODING_NONE, NULL};
	static const char *const part_encodings[] = {
		OSTICK_ENCODING_OSTREE_XZ, OSTICK_ENCODING_ZSTD, OSTICK_ENCODING_ZSTD_X86, NULL};

	if (!ostick_manifest_validate_identity(manifest, error))
		return FALSE;
	if (manifest->install_size > OSTICK_INSTALL_SIZE_MAX)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "install-size too large");
	if (manifest->n_parts == 0 || manifest->n_parts > OSTICK_PARTS_MAX)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "parts: %u outside 1..%d",
			manifest->n_parts, OSTICK_PARTS_MAX);
	if (!check_member("superblock", &manifest->superblock, OSTICK_SUPERBLOCK_MAX_SIZE,
		    superblock_encodings, error))
		return FALSE;
	for (guint i = 0; i < manifest->n_parts; i++) {
		g_autofree char *name = g_strdup_printf(PART_GROUP_PREFIX "%u", i);

		if (!check_member(
			    name, &manifest->parts[i], OSTICK_PART_MAX_SIZE, part_encodings, error))
			return FALSE;
	}
	return TRUE;
}

static void
set_u64(GKeyFile *kf, const char *group, const char *key, guint64 value)
{
	g_autofree char *text = g_strdup_printf("%" G_GUINT64_FORMAT, value);

	g_key_file_set_value(kf, group, key, text);
}

static void
write_member(GKeyFile *kf, const char *group, const OstickMember *member, gboolean is_part)
{
	set_u64(kf, group, "size", member->size);
	g_key_file_set_value(kf, group, "sha256", member->sha256);
	g_key_file_set_string(kf, group, "encoding", member->encoding);
	if (is_part)
		set_u64(kf, group, "decoded-size", member->decoded_size);
	if (member->payload_size != 0)
		set_u64(kf, group, "payload-size", member->payload_size);
}

static void
write_bundle_group(GKeyFile *kf, const OstickManifest *m)
{
	set_u64(kf, GROUP_BUNDLE, "format", m->format);
	g_key_file_set_value(kf, GROUP_BUNDLE, "created", m->created);
	if (m->required_features != NULL && m->required_features[0] != NULL)
		g_key_file_set_string_list(kf, GROUP_BUNDLE, "required-features",
			(const char *const *)m->required_features,
			g_strv_length(m->required_features));
	g_key_file_set_string(kf, GROUP_BUNDLE, "compatible", m->compatible);
	g_key_file_set_string(kf, GROUP_BUNDLE, "version", m->version);
	g_key_file_set_string(kf, GROUP_BUNDLE, "os", m->os);
	g_key_file_set_string(kf, GROUP_BUNDLE, "ref", m->ref);
	g_key_file_set_value(kf, GROUP_BUNDLE, "target", m->target);
	set_u64(kf, GROUP_BUNDLE, "target-timestamp", m->target_timestamp);
	g_key_file_set_value(kf, GROUP_BUNDLE, "base", m->base);
	if (m->description != NULL)
		g_key_file_set_string(kf, GROUP_BUNDLE, "description", m->description);
}

GBytes *
ostick_manifest_serialize(const OstickManifest *manifest, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	gsize len = 0;
	char *text;

	if (!ostick_manifest_validate(manifest, error))
		return NULL;
	write_bundle_group(kf, manifest);
	set_u64(kf, GROUP_PAYLOAD, "parts", manifest->n_parts);
	set_u64(kf, GROUP_PAYLOAD, "install-size", manifest->install_size);
	write_member(kf, GROUP_SUPERBLOCK, &manifest->superblock, FALSE);
	for (guint i = 0; i < manifest->n_parts; i++) {
		g_autofree char *group = g_strdup_printf(PART_GROUP_PREFIX "%u", i);

		write_member(kf, group, &manifest->parts[i], TRUE);
	}
	g_key_file_set_comment(
		kf, NULL, NULL, " ostick bundle manifest (format-spec/FORMAT.md)", NULL);
	text = g_key_file_to_data(kf, &len, NULL);
	return g_bytes_new_take(text, len);
}

/* GKeyFile silently merges repeated groups and keeps the last of repeated keys; a signed
 * manifest must mean one thing to every reader, so repeats are refused (FORMAT.md §3.1). */
static gboolean
check_no_repeats(const char *text, GError **error)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autofree char *group = g_strdup("");

	for (guint i = 0; lines[i] != NULL; i++) {
		char *line = g_strstrip(lines[i]);
		char *eq;
		g_autofree char *id = NULL;

		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (line[0] == '[') {
			g_free(group);
			group = g_strdup(line);
			id = g_strdup(line);
		} else if ((eq = strchr(line, '=')) != NULL) {
			*eq = '\0';
			id = g_strconcat(group, "\n", g_strchomp(line), NULL);
		} else {
			continue; /* GKeyFile reports the syntax error itself */
		}
		if (!g_hash_table_add(seen, g_steal_pointer(&id)))
			return ostick_throw(error, OSTICK_ERROR_FORMAT,
				"line %u repeats a group or key", i + 1);
	}
	return TRUE;
}

/* Strict unsigned decimal: no sign, no spaces, no leading garbage. */
static gboolean
get_u64(GKeyFile *kf, const char *group, const char *key, gboolean required, guint64 *out,
	GError **error)
{
	g_autofree char *value = g_key_file_get_value(kf, group, key, NULL);
	g_autoptr(GError) local_error = NULL;

	if (value == NULL) {
		if (!required)
			return TRUE;
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "[%s] %s: missing", group, key);
	}
	if (!g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, out, &local_error) ||
		(value[0] == '0' && value[1] != '\0'))
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "[%s] %s: '%s' is not a number",
			group, key, value);
	return TRUE;
}

/* A string value; NULL when absent. Escapes are decoded as GKeyFile defines them. */
static char *
get_string(GKeyFile *kf, const char *group, const char *key)
{
	return g_key_file_get_string(kf, group, key, NULL);
}

static gboolean
get_checksum(GKeyFile *kf, const char *group, const char *key, char out[OSTICK_SHA256_HEX_LEN + 1],
	GError **error)
{
	g_autofree char *value = g_key_file_get_value(kf, group, key, NULL);

	if (value == NULL || strlen(value) > OSTICK_SHA256_HEX_LEN)
		return ostick_throw(
			error, OSTICK_ERROR_FORMAT, "[%s] %s: missing or too long", group, key);
	g_strlcpy(out, value, OSTICK_SHA256_HEX_LEN + 1);
	return TRUE;
}

static gboolean
read_member(GKeyFile *kf, const char *group, OstickMember *member, gboolean is_part, GError **error)
{
	if (!g_key_file_has_group(kf, group))
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "[%s]: missing", group);
	if (!get_u64(kf, group, "size", TRUE, &member->size, error) ||
		!get_checksum(kf, group, "sha256", member->sha256, error))
		return FALSE;
	member->encoding = get_string(kf, group, "encoding");
	if (is_part &&
		(!get_u64(kf, group, "decoded-size", TRUE, &member->decoded_size, error) ||
			!get_u64(kf, group, "payload-size", FALSE, &member->payload_size, error)))
		return FALSE;
	return TRUE;
}

static gboolean
read_bundle_group(GKeyFile *kf, OstickManifest *m, GError **error)
{
	guint64 format = 0;

	if (!g_key_file_has_group(kf, GROUP_BUNDLE))
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "[bundle]: missing");
	if (!get_u64(kf, GROUP_BUNDLE, "format", TRUE, &format, error))
		return FALSE;
	m->format = (guint)MIN(format, G_MAXUINT);
	if (m->format != OSTICK_FORMAT_VERSION)
		return ostick_throw(error, OSTICK_ERROR_VERSION,
			"bundle format %" G_GUINT64_FORMAT " not supported (this reader knows %d)",
			format, OSTICK_FORMAT_VERSION);
	m->created = get_string(kf, GROUP_BUNDLE, "created");
	m->required_features =
		g_key_file_get_string_list(kf, GROUP_BUNDLE, "required-features", NULL, NULL);
	m->compatible = get_string(kf, GROUP_BUNDLE, "compatible");
	m->version = get_string(kf, GROUP_BUNDLE, "version");
	m->os = get_string(kf, GROUP_BUNDLE, "os");
	m->ref = get_string(kf, GROUP_BUNDLE, "ref");
	m->description = get_string(kf, GROUP_BUNDLE, "description");
	if (!get_checksum(kf, GROUP_BUNDLE, "target", m->target, error) ||
		!get_u64(kf, GROUP_BUNDLE, "target-timestamp", TRUE, &m->target_timestamp, error))
		return FALSE;
	if (g_key_file_has_key(kf, GROUP_BUNDLE, "base", NULL) &&
		!get_checksum(kf, GROUP_BUNDLE, "base", m->base, error))
		return FALSE;
	return TRUE;
}

/* A [part.N] group with N >= parts, or N not in canonical decimal, means the manifest
 * disagrees with itself. */
static gboolean
check_no_extra_parts(GKeyFile *kf, guint n_parts, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

	for (guint i = 0; groups[i] != NULL; i++) {
		const char *suffix = groups[i] + strlen(PART_GROUP_PREFIX);
		g_autofree char *canonical = NULL;
		guint64 index;

		if (!g_str_has_prefix(groups[i], PART_GROUP_PREFIX))
			continue;
		/* [part.01] would name part 1 a second way: only canonical decimal is a part. */
		if (!g_ascii_string_to_unsigned(suffix, 10, 0, G_MAXUINT64, &index, NULL) ||
			index >= n_parts ||
			g_strcmp0(suffix,
				canonical = g_strdup_printf("%" G_GUINT64_FORMAT, index)) != 0)
			return ostick_throw(error, OSTICK_ERROR_FORMAT,
				"[%s]: no such part (parts=%u)", groups[i], n_parts);
	}
	return TRUE;
}

static gboolean
read_payload(GKeyFile *kf, OstickManifest *m, GError **error)
{
	guint64 n_parts = 0;

	if (!get_u64(kf, GROUP_PAYLOAD, "parts", TRUE, &n_parts, error) ||
		!get_u64(kf, GROUP_PAYLOAD, "install-size", TRUE, &m->install_size, error))
		return FALSE;
	if (n_parts == 0 || n_parts > OSTICK_PARTS_MAX)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"parts: %" G_GUINT64_FORMAT " outside 1..%d", n_parts, OSTICK_PARTS_MAX);
	if (!read_member(kf, GROUP_SUPERBLOCK, &m->superblock, FALSE, error))
		return FALSE;
	ostick_manifest_set_n_parts(m, (guint)n_parts);
	for (guint i = 0; i < m->n_parts; i++) {
		g_autofree char *group = g_strdup_printf(PART_GROUP_PREFIX "%u", i);

		if (!read_member(kf, group, &m->parts[i], TRUE, error))
			return FALSE;
	}
	return check_no_extra_parts(kf, m->n_parts, error);
}

OstickManifest *
ostick_manifest_parse(const guint8 *data, gsize len, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(OstickManifest) manifest = ostick_manifest_new();
	g_autoptr(GError) local_error = NULL;
	g_autofree char *text = NULL;

	g_return_val_if_fail(data != NULL || len == 0, NULL);
	if (len == 0 || len > OSTICK_MANIFEST_MAX_SIZE) {
		ostick_throw(error, OSTICK_ERROR_FORMAT, "manifest: %zu bytes (allowed 1..%d)", len,
			OSTICK_MANIFEST_MAX_SIZE);
		return NULL;
	}
	if (memchr(data, '\0', len) != NULL || !g_utf8_validate((const char *)data, len, NULL)) {
		ostick_throw(error, OSTICK_ERROR_FORMAT, "manifest: not UTF-8 text");
		return NULL;
	}
	text = g_strndup((const char *)data, len);
	if (!check_no_repeats(text, error))
		return NULL;
	if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &local_error)) {
		ostick_throw(error, OSTICK_ERROR_FORMAT, "manifest: %s", local_error->message);
		return NULL;
	}
	if (!read_bundle_group(kf, manifest, error) || !read_payload(kf, manifest, error) ||
		!ostick_manifest_validate(manifest, error)) {
		g_prefix_error(error, "manifest: ");
		return NULL;
	}
	return g_steal_pointer(&manifest);
}

static void
json_string(JsonBuilder *builder, const char *name, const char *value)
{
	json_builder_set_member_name(builder, name);
	if (value != NULL)
		json_builder_add_string_value(builder, value);
	else
		json_builder_add_null_value(builder);
}

static void
json_uint(JsonBuilder *builder, const char *name, guint64 value)
{
	json_builder_set_member_name(builder, name);
	json_builder_add_int_value(builder, (gint64)MIN(value, (guint64)G_MAXINT64));
}

static void
json_member(JsonBuilder *builder, const char *name, const OstickMember *member, gboolean is_part)
{
	json_builder_begin_object(builder);
	json_string(builder, "name", name);
	json_uint(builder, "size", member->size);
	json_string(builder, "sha256", member->sha256);
	json_string(builder, "encoding", member->encoding);
	if (is_part)
		json_uint(builder, "decoded_size", member->decoded_size);
	if (member->payload_size != 0)
		json_uint(builder, "payload_size", member->payload_size);
	json_builder_end_object(builder);
}

void
ostick_manifest_add_json(const OstickManifest *m, JsonBuilder *builder)
{
	json_uint(builder, "format", m->format);
	json_string(builder, "created", m->created);
	json_string(builder, "compatible", m->compatible);
	json_string(builder, "version", m->version);
	json_string(builder, "os", m->os);
	json_string(builder, "ref", m->ref);
	json_string(builder, "description", m->description);
	json_string(builder, "target", m->target);
	json_uint(builder, "target_timestamp", m->target_timestamp);
	json_string(builder, "base", m->base[0] ? m->base : NULL);
	json_uint(builder, "install_size", m->install_size);
	json_builder_set_member_name(builder, "required_features");
	json_builder_begin_array(builder);
	for (guint i = 0; m->required_features != NULL && m->required_features[i] != NULL; i++)
		json_builder_add_string_value(builder, m->required_features[i]);
	json_builder_end_array(builder);
	json_builder_set_member_name(builder, "members");
	json_builder_begin_array(builder);
	json_member(builder, OSTICK_MEMBER_SUPERBLOCK, &m->superblock, FALSE);
	for (guint i = 0; i < m->n_parts; i++) {
		g_autofree char *name = ostick_part_member_name(i);

		json_member(builder, name, &m->parts[i], TRUE);
	}
	json_builder_end_array(builder);
}

gboolean
ostick_encoding_has_x86_branches(const char *encoding)
{
	return g_strcmp0(encoding, OSTICK_ENCODING_ZSTD_X86) == 0;
}

gboolean
ostick_encoding_is_zstd(const char *encoding)
{
	return g_strcmp0(encoding, OSTICK_ENCODING_ZSTD) == 0 ||
	       ostick_encoding_has_x86_branches(encoding);
}
