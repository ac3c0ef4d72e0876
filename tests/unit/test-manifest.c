/* test-manifest.c: the manifest (FORMAT.md §3): round trips, canonical bytes, every parse
 * rejection with its exact error code (one row per rule), what must be accepted, and JSON. */
#include "ostick-error.h"
#include "ostick-format.h"
#include "ostick-manifest.h"
#include "testlib.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* sha256sum of the words "target", "base", "superblock", "part0", "part1": any checksums do. */
#define TARGET "34a04005bcaf206eec990bd9637d9fdb6725e0a0c0d4aebf003f17f4c956eb5c"
#define BASE "cae662172fd450bb0cd710a769079c05bfc5d8e35efa6576edc7d0377afdd4a2"
#define SB_SHA "df46d683d0a1c53688f95e8d086cb0703cd7aea8d5866d4808acf15c9a0811e3"
#define P0_SHA "b0dd0a55d266c3af62b5eefceef2f66bcd4e9e99b958502cd47b8d3993d183f8"
#define P1_SHA "59e0a3cc7a0c45f96735bf1f06325db90b4bb742f257df12b6b18df3d2126499"

/* A valid delta manifest with two parts, written by hand (not by the serializer under test). */
static const char valid_text[] = "# ostick bundle manifest\n"
				 "\n"
				 "[bundle]\n"
				 "format=1\n"
				 "created=2026-11-23T10:00:00Z\n"
				 "compatible=acme-board\n"
				 "version=1.0\n"
				 "os=acme-os\n"
				 "ref=acme/stable\n"
				 "target=" TARGET "\n"
				 "target-timestamp=1795477984\n"
				 "base=" BASE "\n"
				 "\n"
				 "[payload]\n"
				 "parts=2\n"
				 "install-size=2498560\n"
				 "\n"
				 "[superblock]\n"
				 "size=1292\n"
				 "sha256=" SB_SHA "\n"
				 "encoding=none\n"
				 "\n"
				 "[part.0]\n"
				 "size=2362933\n"
				 "sha256=" P0_SHA "\n"
				 "encoding=ostree-xz\n"
				 "decoded-size=2429891\n"
				 "\n"
				 "[part.1]\n"
				 "size=100\n"
				 "sha256=" P1_SHA "\n"
				 "encoding=ostree-xz\n"
				 "decoded-size=200\n";

#define ACCEPT (-1)

static OstickManifest *
parse_text(const char *text, gsize len, int code)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OstickManifest) m = ostick_manifest_parse((const guint8 *)text, len, &error);

	if (code == ACCEPT) {
		g_assert_no_error(error);
		g_assert_nonnull(m);
		return g_steal_pointer(&m);
	}
	g_assert_error(error, OSTICK_ERROR, code);
	g_assert_null(m);
	return NULL;
}

static OstickManifest *
parse_ok(const char *text)
{
	return parse_text(text, strlen(text), ACCEPT);
}

/* ---- editing the valid text, one line at a time ---- */

typedef enum {
	EDIT_SET, /* replace the value of an existing key */
	EDIT_INSERT, /* add "key=value" right after the group header (may repeat a key) */
	EDIT_DELETE_KEY, /* remove the key's line */
	EDIT_DELETE_GROUP, /* remove the header and every line of the group */
	EDIT_APPEND, /* add @value at the end of the text */
} EditOp;

typedef struct {
	const char *name;
	EditOp op;
	const char *group;
	const char *key;
	const char *value; /* "@N": N times 'a' */
	int code; /* OstickErrorCode, or ACCEPT */
} EditRow;

static char *
expand_value(const char *value)
{
	if (value != NULL && value[0] == '@')
		return g_strnfill((gsize)g_ascii_strtoull(value + 1, NULL, 10), 'a');
	return g_strdup(value);
}

static char *
group_of(const char *line)
{
	const char *end = strchr(line, ']');

	g_assert_nonnull(end);
	return g_strndup(line + 1, (gsize)(end - line - 1));
}

typedef struct {
	const EditRow *row;
	const char *value;
	gboolean in_group;
	gboolean done;
} EditState;

/* Handles one line of the input; appends what remains of it to @out. */
static void
edit_line(EditState *s, const char *line, GString *out)
{
	const EditRow *row = s->row;
	g_autofree char *key_prefix = row->key ? g_strconcat(row->key, "=", NULL) : NULL;

	if (line[0] == '[') {
		g_autofree char *group = group_of(line);

		s->in_group = g_str_equal(group, row->group);
		if (s->in_group && row->op == EDIT_DELETE_GROUP) {
			s->done = TRUE;
			return;
		}
		g_string_append_printf(out, "%s\n", line);
		if (s->in_group && row->op == EDIT_INSERT && !s->done) {
			g_string_append_printf(out, "%s=%s\n", row->key, s->value);
			s->done = TRUE;
		}
		return;
	}
	if (s->in_group && row->op == EDIT_DELETE_GROUP)
		return;
	if (s->in_group && key_prefix && g_str_has_prefix(line, key_prefix) &&
		(row->op == EDIT_SET || row->op == EDIT_DELETE_KEY)) {
		s->done = TRUE;
		if (row->op == EDIT_SET)
			g_string_append_printf(out, "%s%s\n", key_prefix, s->value);
		return;
	}
	g_string_append_printf(out, "%s\n", line);
}

static char *
apply_edit(const char *text, const EditRow *row)
{
	g_autofree char *value = expand_value(row->value);
	g_auto(GStrv) lines = NULL;
	g_autoptr(GString) out = g_string_new(NULL);
	EditState state = {row, value, FALSE, FALSE};

	if (row->op == EDIT_APPEND)
		return g_strconcat(text, value, NULL);
	lines = g_strsplit(text, "\n", -1);
	/* The text ends in a newline: the last piece is empty. */
	for (guint i = 0; lines[i + 1] != NULL; i++)
		edit_line(&state, lines[i], out);
	g_assert_true(state.done); /* the row names a group and key that exist */
	g_assert_cmpstr(out->str, !=, text);
	return g_string_free(g_steal_pointer(&out), FALSE);
}

#define MISSING(g, k)                                                                              \
	{                                                                                          \
		"missing-key/" g "." k, EDIT_DELETE_KEY, g, k, NULL, OSTICK_ERROR_FORMAT           \
	}
#define MISSING_GROUP(g)                                                                           \
	{                                                                                          \
		"missing-group/" g, EDIT_DELETE_GROUP, g, NULL, NULL, OSTICK_ERROR_FORMAT          \
	}
#define BAD(name, g, k, v, code)                                                                   \
	{                                                                                          \
		"reject/" name, EDIT_SET, g, k, v, OSTICK_ERROR_##code                             \
	}
#define BAD_INSERT(name, g, k, v, code)                                                            \
	{                                                                                          \
		"reject/" name, EDIT_INSERT, g, k, v, OSTICK_ERROR_##code                          \
	}
#define BAD_APPEND(name, text, code)                                                               \
	{                                                                                          \
		"reject/" name, EDIT_APPEND, NULL, NULL, text, OSTICK_ERROR_##code                 \
	}
#define GOOD(name, g, k, v)                                                                        \
	{                                                                                          \
		"accept/" name, EDIT_SET, g, k, v, ACCEPT                                          \
	}
#define GOOD_INSERT(name, g, k, v)                                                                 \
	{                                                                                          \
		"accept/" name, EDIT_INSERT, g, k, v, ACCEPT                                       \
	}
#define GOOD_APPEND(name, text)                                                                    \
	{                                                                                          \
		"accept/" name, EDIT_APPEND, NULL, NULL, text, ACCEPT                              \
	}

static const EditRow edit_rows[] = {
	MISSING("bundle", "format"),
	MISSING("bundle", "created"),
	MISSING("bundle", "compatible"),
	MISSING("bundle", "version"),
	MISSING("bundle", "os"),
	MISSING("bundle", "ref"),
	MISSING("bundle", "target"),
	MISSING("bundle", "target-timestamp"),
	MISSING("payload", "parts"),
	MISSING("payload", "install-size"),
	MISSING("superblock", "size"),
	MISSING("superblock", "sha256"),
	MISSING("superblock", "encoding"),
	MISSING("part.0", "size"),
	MISSING("part.0", "sha256"),
	MISSING("part.0", "encoding"),
	MISSING("part.0", "decoded-size"),
	MISSING("part.1", "size"),
	MISSING("part.1", "sha256"),
	MISSING("part.1", "encoding"),
	MISSING("part.1", "decoded-size"),
	MISSING_GROUP("bundle"),
	MISSING_GROUP("payload"),
	MISSING_GROUP("superblock"),
	MISSING_GROUP("part.0"),
	MISSING_GROUP("part.1"),

	/* [bundle] format */
	BAD("format-2", "bundle", "format", "2", VERSION),
	BAD("format-0", "bundle", "format", "0", VERSION),
	BAD("format-2-pow-32-plus-1", "bundle", "format", "4294967297", VERSION),
	BAD("format-abc", "bundle", "format", "abc", FORMAT),
	BAD("format-empty", "bundle", "format", "", FORMAT),
	BAD("format-plus", "bundle", "format", "+1", FORMAT),
	BAD("format-leading-zero", "bundle", "format", "01", FORMAT),
	BAD("format-trailing-space", "bundle", "format", "1 ", FORMAT),

	/* Strict unsigned decimal numbers. */
	BAD("number-plus", "bundle", "target-timestamp", "+1795477984", FORMAT),
	BAD("number-minus", "bundle", "target-timestamp", "-1", FORMAT),
	BAD("number-minus-zero", "payload", "install-size", "-0", FORMAT),
	BAD("number-leading-zero", "bundle", "target-timestamp", "01795477984", FORMAT),
	BAD("number-double-zero", "payload", "install-size", "00", FORMAT),
	BAD("number-trailing-space", "bundle", "target-timestamp", "1795477984 ", FORMAT),
	BAD("number-trailing-tab", "superblock", "size", "1292\t", FORMAT),
	BAD("number-inner-space", "bundle", "target-timestamp", "1795 477984", FORMAT),
	BAD("number-escaped-space", "part.0", "size", "\\s2362933", FORMAT),
	BAD("number-hex", "bundle", "target-timestamp", "0x10", FORMAT),
	BAD("number-exponent", "payload", "install-size", "1e6", FORMAT),
	BAD("number-fraction", "part.1", "decoded-size", "1.5", FORMAT),
	BAD("number-empty", "part.1", "decoded-size", "", FORMAT),
	BAD("number-overflow", "bundle", "target-timestamp", "18446744073709551616", FORMAT),
	BAD("number-overflow-long", "part.0", "size", "99999999999999999999999", FORMAT),
	BAD("parts-plus", "payload", "parts", "+2", FORMAT),
	BAD("parts-leading-zero", "payload", "parts", "02", FORMAT),
	BAD("parts-2-pow-32-plus-2", "payload", "parts", "4294967298", FORMAT),

	/* Features and encodings this reader does not know. */
	BAD_INSERT("required-feature-unknown", "bundle", "required-features", "x-future", VERSION),
	BAD_INSERT("required-features-two", "bundle", "required-features", "a;b;", VERSION),
	BAD("part-encoding-unknown", "part.0", "encoding", "x-zstd-99", VERSION),
	/* zstd parts carry the exact decoded length; other parts must not. */
	BAD("part-zstd-without-payload-size", "part.1", "encoding", "zstd", FORMAT),
	BAD_INSERT("payload-size-on-ostree-xz-part", "part.1", "payload-size", "200", FORMAT),
	BAD("part-encoding-none", "part.1", "encoding", "none", VERSION),
	BAD("superblock-encoding-xz", "superblock", "encoding", "ostree-xz", VERSION),
	BAD("superblock-encoding-unknown", "superblock", "encoding", "gzip", VERSION),

	/* Parts. */
	BAD("parts-0", "payload", "parts", "0", FORMAT),
	BAD("parts-4097", "payload", "parts", "4097", FORMAT),
	BAD("part-group-beyond-parts", "payload", "parts", "1", FORMAT),
	BAD("part-group-missing", "payload", "parts", "3", FORMAT),
	BAD_APPEND("part-group-far-beyond",
		"\n[part.7]\nsize=1\nsha256=" P1_SHA "\n"
		"encoding=ostree-xz\ndecoded-size=1\n",
		FORMAT),
	/* A second spelling of [part.1]: two groups would describe one part. */
	BAD_APPEND("part-group-leading-zero",
		"\n[part.01]\nsize=100\nsha256=" P1_SHA "\n"
		"encoding=ostree-xz\ndecoded-size=200\n",
		FORMAT),
	BAD_APPEND("part-group-not-a-number", "\n[part.x]\n", FORMAT),

	/* Sizes and checksums. */
	BAD("superblock-size-0", "superblock", "size", "0", FORMAT),
	BAD("part-size-0", "part.1", "size", "0", FORMAT),
	BAD("superblock-size-over-32mib", "superblock", "size", "33554433", FORMAT),
	BAD("part-size-over-16gib", "part.0", "size", "17179869185", FORMAT),
	BAD("decoded-size-over-16gib", "part.0", "decoded-size", "17179869185", FORMAT),
	BAD("install-size-over-1pib", "payload", "install-size", "1125899906842625", FORMAT),
	BAD("sha256-uppercase", "part.0", "sha256",
		"B0DD0A55D266C3AF62B5EEFCEEF2F66BCD4E9E99B958502CD47B8D3993D183F8", FORMAT),
	BAD("sha256-63", "part.0", "sha256",
		"b0dd0a55d266c3af62b5eefceef2f66bcd4e9e99b958502cd47b8d3993d183f", FORMAT),
	BAD("sha256-65", "part.1", "sha256", P1_SHA "0", FORMAT),
	BAD("sha256-non-hex", "superblock", "sha256",
		"zf46d683d0a1c53688f95e8d086cb0703cd7aea8d5866d4808acf15c9a0811e3", FORMAT),
	BAD("sha256-empty", "superblock", "sha256", "", FORMAT),

	/* Commits. */
	BAD("target-not-checksum", "bundle", "target", "abc", FORMAT),
	BAD("target-uppercase", "bundle", "target",
		"34A04005BCAF206EEC990BD9637D9FDB6725E0A0C0D4AEBF003F17F4C956EB5C", FORMAT),
	BAD("target-65", "bundle", "target", TARGET "0", FORMAT),
	BAD("target-empty", "bundle", "target", "", FORMAT),
	BAD("base-equals-target", "bundle", "base", TARGET, FORMAT),
	BAD("base-not-checksum", "bundle", "base", "xyz", FORMAT),
	BAD("base-63", "bundle", "base",
		"cae662172fd450bb0cd710a769079c05bfc5d8e35efa6576edc7d0377afdd4a", FORMAT),

	/* Identity strings. */
	/* OSTree's ref grammar (ostree_validate_rev): "a..b" is a valid ref, "a/../b" is not. */
	BAD("ref-dotdot-component", "bundle", "ref", "a/../b", FORMAT),
	BAD("ref-dotdot", "bundle", "ref", "..", FORMAT),
	BAD("ref-double-slash", "bundle", "ref", "a//b", FORMAT),
	BAD("ref-leading-slash", "bundle", "ref", "/x", FORMAT),
	BAD("ref-trailing-slash", "bundle", "ref", "x/", FORMAT),
	BAD("ref-space", "bundle", "ref", "a b", FORMAT),
	BAD("ref-empty", "bundle", "ref", "", FORMAT),
	BAD("ref-too-long", "bundle", "ref", "@257", FORMAT),
	BAD("os-slash", "bundle", "os", "acme/os", FORMAT),
	BAD("os-leading-dash", "bundle", "os", "-os", FORMAT),
	BAD("os-leading-dot", "bundle", "os", ".os", FORMAT),
	BAD("os-dotdot", "bundle", "os", "..", FORMAT),
	BAD("os-space", "bundle", "os", "acme os", FORMAT),
	BAD("os-empty", "bundle", "os", "", FORMAT),
	BAD("os-too-long", "bundle", "os", "@65", FORMAT),
	BAD("compatible-empty", "bundle", "compatible", "", FORMAT),
	BAD("compatible-control", "bundle", "compatible",
		"acme\x01"
		"board",
		FORMAT),
	BAD("compatible-escaped-newline", "bundle", "compatible", "acme\\nboard", FORMAT),
	BAD("compatible-escaped-tab", "bundle", "compatible", "acme\\tboard", FORMAT),
	BAD("compatible-del", "bundle", "compatible", "acme\x7f", FORMAT),
	/* C1 controls (U+0080..U+009F) are control characters too: NEL breaks lines, CSI starts
	 * terminal escape sequences. */
	BAD("compatible-c1-nel", "bundle", "compatible",
		"acme\xc2\x85"
		"board",
		FORMAT),
	BAD("compatible-c1-csi", "bundle", "compatible",
		"acme\xc2\x9b"
		"31m",
		FORMAT),
	BAD_INSERT("description-c1-control", "bundle", "description",
		"a\xc2\x80"
		"b",
		FORMAT),
	BAD("compatible-too-long", "bundle", "compatible", "@257", FORMAT),
	BAD("compatible-not-utf8", "bundle", "compatible", "acme\xff", FORMAT),
	BAD("compatible-overlong-utf8", "bundle", "compatible", "acme\xc0\xaf", FORMAT),
	BAD("version-too-long", "bundle", "version", "@129", FORMAT),
	BAD("version-empty", "bundle", "version", "", FORMAT),
	BAD("version-control", "bundle", "version", "1.0\x1b[31m", FORMAT),
	BAD_INSERT("description-too-long", "bundle", "description", "@4097", FORMAT),
	BAD_INSERT("description-control", "bundle", "description", "line\\nbreak", FORMAT),
	BAD("created-not-a-time", "bundle", "created", "yesterday", FORMAT),
	BAD("created-no-timezone", "bundle", "created", "2026-11-23T10:00:00", FORMAT),
	BAD("created-empty", "bundle", "created", "", FORMAT),

	/* The text as a whole. */
	BAD_APPEND("not-utf8-in-comment", "# caf\xc3(\n", FORMAT),
	BAD_INSERT("repeated-key", "bundle", "compatible", "acme-board", FORMAT),
	BAD_INSERT("repeated-key-other-value", "bundle", "compatible", "other-board", FORMAT),
	BAD_INSERT("repeated-key-spaced", "bundle", "compatible ", " other-board", FORMAT),
	BAD_INSERT("repeated-key-in-part", "part.1", "size", "100", FORMAT),
	BAD_APPEND("repeated-group", "\n[bundle]\nx-extra=1\n", FORMAT),
	BAD_APPEND("repeated-group-empty", "\n[payload]\n", FORMAT),
	BAD_APPEND("repeated-part-group", "\n[part.0]\n", FORMAT),
	BAD_APPEND("syntax-error", "this line is not a key\n", FORMAT),

	/* Accepted. */
	GOOD_INSERT("unknown-key-bundle", "bundle", "x-vendor-flag", "yes"),
	GOOD_INSERT("unknown-key-part", "part.1", "x-note", "ignored"),
	GOOD_APPEND("unknown-group", "\n[x-vendor]\nanything=goes\n"),
	GOOD_APPEND("comments", "# a comment\n#another=one\n\n"),
	GOOD_INSERT("comment-in-group", "superblock", "# size", "5"),
	GOOD_INSERT("required-features-empty", "bundle", "required-features", ""),
	GOOD_INSERT("description-4096", "bundle", "description", "@4096"),
	GOOD("base-empty", "bundle", "base", ""),
	{"accept/base-absent", EDIT_DELETE_KEY, "bundle", "base", NULL, ACCEPT},
	GOOD("superblock-size-32mib", "superblock", "size", "33554432"),
	GOOD("part-size-16gib", "part.0", "size", "17179869184"),
	GOOD("decoded-size-16gib", "part.1", "decoded-size", "17179869184"),
	GOOD("decoded-size-0", "part.1", "decoded-size", "0"),
	GOOD("install-size-1pib", "payload", "install-size", "1125899906842624"),
	GOOD("install-size-0", "payload", "install-size", "0"),
	GOOD("timestamp-0", "bundle", "target-timestamp", "0"),
	GOOD("timestamp-max", "bundle", "target-timestamp", "18446744073709551615"),
	GOOD("compatible-256", "bundle", "compatible", "@256"),
	GOOD("compatible-utf8", "bundle", "compatible", "carte-\xc3\xa9lectronique"),
	GOOD("version-128", "bundle", "version", "@128"),
	GOOD("os-64", "bundle", "os", "@64"),
	GOOD("os-punctuation", "bundle", "os", "9acme_os.v-2"),
	GOOD("ref-256", "bundle", "ref", "@256"),
	GOOD("created-offset", "bundle", "created", "2026-11-23T11:00:00+01:00"),
};

static void
test_edit(gconstpointer data)
{
	const EditRow *row = data;
	g_autofree char *text = apply_edit(valid_text, row);
	g_autoptr(OstickManifest) m = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) again = NULL;

	m = parse_text(text, strlen(text), row->code);
	if (m == NULL)
		return;
	/* What parses is valid: it serializes again. */
	again = ostick_manifest_serialize(m, &error);
	g_assert_no_error(error);
	g_assert_nonnull(again);
}

/* The base text itself parses, to the values it spells out. */
static void
test_parse_valid_text(void)
{
	g_autoptr(OstickManifest) m = parse_ok(valid_text);

	g_assert_cmpuint(m->format, ==, 1);
	g_assert_cmpstr(m->created, ==, "2026-11-23T10:00:00Z");
	g_assert_cmpstr(m->compatible, ==, "acme-board");
	g_assert_cmpstr(m->version, ==, "1.0");
	g_assert_cmpstr(m->os, ==, "acme-os");
	g_assert_cmpstr(m->ref, ==, "acme/stable");
	g_assert_null(m->description);
	g_assert_cmpstr(m->target, ==, TARGET);
	g_assert_cmpuint(m->target_timestamp, ==, 1795477984);
	g_assert_cmpstr(m->base, ==, BASE);
	g_assert_cmpuint(m->install_size, ==, 2498560);
	g_assert_cmpuint(m->superblock.size, ==, 1292);
	g_assert_cmpstr(m->superblock.sha256, ==, SB_SHA);
	g_assert_cmpstr(m->superblock.encoding, ==, "none");
	g_assert_cmpuint(m->n_parts, ==, 2);
	g_assert_cmpuint(m->parts[0].size, ==, 2362933);
	g_assert_cmpstr(m->parts[0].sha256, ==, P0_SHA);
	g_assert_cmpstr(m->parts[0].encoding, ==, "ostree-xz");
	g_assert_cmpuint(m->parts[0].decoded_size, ==, 2429891);
	g_assert_cmpuint(m->parts[1].size, ==, 100);
	g_assert_cmpstr(m->parts[1].sha256, ==, P1_SHA);
	g_assert_cmpuint(m->parts[1].decoded_size, ==, 200);
	g_assert_true(ostick_manifest_is_delta(m));
}

static void
test_parse_from_scratch(void)
{
	const EditRow rows[] = {
		{NULL, EDIT_DELETE_KEY, "bundle", "base", NULL, ACCEPT},
		{NULL, EDIT_SET, "bundle", "base", "", ACCEPT},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree char *text = apply_edit(valid_text, &rows[i]);
		g_autoptr(OstickManifest) m = parse_ok(text);

		g_assert_cmpstr(m->base, ==, "");
		g_assert_false(ostick_manifest_is_delta(m));
	}
}

static void
test_parse_description(void)
{
	const EditRow row = {NULL, EDIT_INSERT, "bundle", "description",
		"\\sSecurity fixes: caf\xc3\xa9, \\\\share; #1 = [x]", ACCEPT};
	g_autofree char *text = apply_edit(valid_text, &row);
	g_autoptr(OstickManifest) m = parse_ok(text);

	g_assert_cmpstr(m->description, ==, " Security fixes: caf\xc3\xa9, \\share; #1 = [x]");
}

/* Unknown keys and groups change nothing that was parsed. */
static void
test_parse_ignores_unknown(void)
{
	const EditRow row = {
		NULL, EDIT_APPEND, NULL, NULL, "\n[x-vendor]\nparts=9\ncompatible=evil\n", ACCEPT};
	g_autofree char *text = apply_edit(valid_text, &row);
	g_autoptr(OstickManifest) m = parse_ok(text);

	g_assert_cmpuint(m->n_parts, ==, 2);
	g_assert_cmpstr(m->compatible, ==, "acme-board");
}

/* parts=1 with [part.1] gone as well. */
static void
test_parse_one_part(void)
{
	const EditRow set = {NULL, EDIT_SET, "payload", "parts", "1", ACCEPT};
	const EditRow drop = {NULL, EDIT_DELETE_GROUP, "part.1", NULL, NULL, ACCEPT};
	g_autofree char *text = apply_edit(valid_text, &set);
	g_autofree char *edited = apply_edit(text, &drop);
	g_autoptr(OstickManifest) m = parse_ok(edited);

	g_assert_cmpuint(m->n_parts, ==, 1);
	g_assert_cmpstr(m->parts[0].sha256, ==, P0_SHA);
}

/* A zstd part: its payload-size is read, bounded, and written back in place. */
static void
test_parse_zstd_part(void)
{
	const char *tail = "encoding=ostree-xz\ndecoded-size=200\n";
	const char *cases[] = {"1", "321", "17179869184", "0", "17179869185", ""};
	const int codes[] = {ACCEPT, ACCEPT, ACCEPT, OSTICK_ERROR_FORMAT, OSTICK_ERROR_FORMAT,
		OSTICK_ERROR_FORMAT};

	g_assert_true(g_str_has_suffix(valid_text, tail));
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *head = g_strndup(valid_text, strlen(valid_text) - strlen(tail));
		g_autofree char *text = g_strdup_printf(
			"%sencoding=zstd\ndecoded-size=200\npayload-size=%s\n", head, cases[i]);
		g_autoptr(OstickManifest) m = parse_text(text, strlen(text), codes[i]);
		g_autoptr(GBytes) again = NULL;
		g_autoptr(GError) error = NULL;

		if (codes[i] != ACCEPT)
			continue;
		g_assert_cmpstr(m->parts[1].encoding, ==, "zstd");
		g_assert_cmpuint(
			m->parts[1].payload_size, ==, g_ascii_strtoull(cases[i], NULL, 10));
		g_assert_cmpuint(m->parts[0].payload_size, ==, 0);
		again = ostick_manifest_serialize(m, &error);
		g_assert_no_error(error);
		g_assert_nonnull(strstr(g_bytes_get_data(again, NULL), "payload-size="));
	}
}

static void
test_parse_nul(void)
{
	gsize len = strlen(valid_text);
	const gsize offsets[] = {0, len / 2, len - 1};

	for (gsize i = 0; i < G_N_ELEMENTS(offsets); i++) {
		g_autofree char *copy = g_strdup(valid_text);

		copy[offsets[i]] = '\0';
		(void)parse_text(copy, len, OSTICK_ERROR_FORMAT);
	}
	/* One NUL past the text, as a C string would carry it. */
	(void)parse_text(valid_text, len + 1, OSTICK_ERROR_FORMAT);
}

static void
test_parse_empty(void)
{
	(void)parse_text("", 0, OSTICK_ERROR_FORMAT);
	(void)parse_text("\n", 1, OSTICK_ERROR_FORMAT);
	(void)parse_text("# only a comment\n", 17, OSTICK_ERROR_FORMAT);
}

/* The valid text padded with a comment to exactly @size bytes. */
static char *
padded_text(gsize size)
{
	gsize len = strlen(valid_text);
	char *text = g_malloc(size + 1);

	g_assert_cmpuint(size, >, len + 3);
	memcpy(text, valid_text, len);
	text[len] = '#';
	memset(text + len + 1, 'x', size - len - 2);
	text[size - 1] = '\n';
	text[size] = '\0';
	return text;
}

static void
test_parse_at_size_limit(void)
{
	g_autofree char *text = padded_text(1024 * 1024);
	g_autoptr(OstickManifest) m = parse_text(text, 1024 * 1024, ACCEPT);

	g_assert_cmpuint(m->n_parts, ==, 2);
}

static void
test_parse_over_size_limit(void)
{
	g_autofree char *text = padded_text(1024 * 1024 + 1);

	(void)parse_text(text, 1024 * 1024 + 1, OSTICK_ERROR_FORMAT);
}

/* ---- building, serializing and parsing back ---- */

static void
set_member(OstickMember *member, const char *seed, guint64 size, const char *encoding)
{
	member->size = size;
	ostick_sha256_hex(seed, strlen(seed), member->sha256);
	member->encoding = g_strdup(encoding);
}

static OstickManifest *
build_manifest(gboolean delta, guint n_parts)
{
	OstickManifest *m = ostick_manifest_new();

	m->created = g_strdup("2026-11-23T10:00:00Z");
	m->compatible = g_strdup("acme-board rev B");
	m->version = g_strdup("1.2.3");
	m->os = g_strdup("acme-os");
	m->ref = g_strdup("acme/stable/x86_64");
	strcpy(m->target, TARGET);
	strcpy(m->base, delta ? BASE : "");
	m->target_timestamp = 1795477984;
	m->install_size = 2498560;
	set_member(&m->superblock, "superblock", 1292, OSTICK_ENCODING_NONE);
	ostick_manifest_set_n_parts(m, n_parts);
	for (guint i = 0; i < n_parts; i++) {
		g_autofree char *seed = g_strdup_printf("part %u", i);

		set_member(&m->parts[i], seed, 1000 + i, OSTICK_ENCODING_OSTREE_XZ);
		m->parts[i].decoded_size = 5000 + i;
	}
	return m;
}

/* Every field at its limit: the largest manifest the format allows. */
static OstickManifest *
build_limits_manifest(void)
{
	OstickManifest *m = build_manifest(TRUE, OSTICK_PARTS_MAX);

	g_free(m->compatible);
	m->compatible = g_strnfill(OSTICK_COMPATIBLE_MAX_LEN, 'c');
	g_free(m->version);
	m->version = g_strnfill(OSTICK_VERSION_MAX_LEN, 'v');
	g_free(m->os);
	m->os = g_strnfill(OSTICK_OS_MAX_LEN, 'o');
	g_free(m->ref);
	m->ref = g_strnfill(OSTICK_REF_MAX_LEN, 'r');
	m->description = g_strnfill(OSTICK_TEXT_MAX_LEN, 'd');
	m->target_timestamp = G_MAXUINT64;
	m->install_size = OSTICK_INSTALL_SIZE_MAX;
	m->superblock.size = OSTICK_SUPERBLOCK_MAX_SIZE;
	for (guint i = 0; i < m->n_parts; i++) {
		m->parts[i].size = OSTICK_PART_MAX_SIZE;
		m->parts[i].decoded_size = OSTICK_PART_MAX_SIZE;
	}
	return m;
}

static GBytes *
serialize_ok(const OstickManifest *m)
{
	g_autoptr(GError) error = NULL;
	GBytes *bytes = ostick_manifest_serialize(m, &error);

	g_assert_no_error(error);
	g_assert_nonnull(bytes);
	return bytes;
}

static OstickManifest *
parse_bytes_ok(GBytes *bytes)
{
	return parse_text(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), ACCEPT);
}

static void
assert_members_equal(const OstickMember *a, const OstickMember *b)
{
	g_assert_cmpuint(a->size, ==, b->size);
	g_assert_cmpstr(a->sha256, ==, b->sha256);
	g_assert_cmpstr(a->encoding, ==, b->encoding);
	g_assert_cmpuint(a->decoded_size, ==, b->decoded_size);
}

static guint
n_features(GStrv features)
{
	return features ? g_strv_length(features) : 0;
}

static void
assert_manifests_equal(const OstickManifest *a, const OstickManifest *b)
{
	g_assert_cmpuint(a->format, ==, b->format);
	g_assert_cmpstr(a->created, ==, b->created);
	g_assert_cmpuint(n_features(a->required_features), ==, n_features(b->required_features));
	g_assert_cmpstr(a->compatible, ==, b->compatible);
	g_assert_cmpstr(a->version, ==, b->version);
	g_assert_cmpstr(a->os, ==, b->os);
	g_assert_cmpstr(a->ref, ==, b->ref);
	g_assert_cmpstr(a->description, ==, b->description);
	g_assert_cmpstr(a->target, ==, b->target);
	g_assert_cmpuint(a->target_timestamp, ==, b->target_timestamp);
	g_assert_cmpstr(a->base, ==, b->base);
	g_assert_cmpuint(a->install_size, ==, b->install_size);
	assert_members_equal(&a->superblock, &b->superblock);
	g_assert_cmpuint(a->n_parts, ==, b->n_parts);
	for (guint i = 0; i < a->n_parts; i++)
		assert_members_equal(&a->parts[i], &b->parts[i]);
}

typedef struct {
	const char *name;
	gboolean delta;
	guint n_parts;
	const char *description;
	const char *compatible; /* NULL: the default */
	const char *version; /* NULL: the default */
} RoundtripRow;

static const RoundtripRow roundtrip_rows[] = {
	{"delta-1-part", TRUE, 1},
	{"scratch-3-parts", FALSE, 3},
	{"description", TRUE, 2, "Security fixes for the kernel"},
	{"escapes", TRUE, 1, " caf\xc3\xa9 \\ back\\slash; #not-a-comment = [x] ", " acme ",
		"1.0 #beta; [x]=y\\n"},
	{"many-parts", FALSE, 100},
};

static OstickManifest *
build_row_manifest(const RoundtripRow *row)
{
	OstickManifest *m = build_manifest(row->delta, row->n_parts);

	m->description = g_strdup(row->description);
	if (row->compatible != NULL) {
		g_free(m->compatible);
		m->compatible = g_strdup(row->compatible);
	}
	if (row->version != NULL) {
		g_free(m->version);
		m->version = g_strdup(row->version);
	}
	return m;
}

static void
test_roundtrip(gconstpointer data)
{
	g_autoptr(OstickManifest) m = build_row_manifest(data);
	g_autoptr(GBytes) bytes = serialize_ok(m);
	g_autoptr(OstickManifest) back = parse_bytes_ok(bytes);

	assert_manifests_equal(back, m);
	g_assert_cmpint(ostick_manifest_is_delta(back), ==, ostick_manifest_is_delta(m));
}

static void
test_roundtrip_limits(void)
{
	g_autoptr(OstickManifest) m = build_limits_manifest();
	g_autoptr(GBytes) bytes = serialize_ok(m);
	g_autoptr(OstickManifest) back = NULL;

	g_assert_cmpuint(g_bytes_get_size(bytes), <=, OSTICK_MANIFEST_MAX_SIZE);
	back = parse_bytes_ok(bytes);
	assert_manifests_equal(back, m);
}

/* The same manifest always gives the same bytes, and parsing them gives those bytes again. */
static void
test_deterministic(gconstpointer data)
{
	g_autoptr(OstickManifest) a = build_row_manifest(data);
	g_autoptr(OstickManifest) b = build_row_manifest(data);
	g_autoptr(GBytes) bytes_a = serialize_ok(a);
	g_autoptr(GBytes) bytes_a2 = serialize_ok(a);
	g_autoptr(GBytes) bytes_b = serialize_ok(b);
	g_autoptr(OstickManifest) back = parse_bytes_ok(bytes_a);
	g_autoptr(GBytes) bytes_back = serialize_ok(back);

	g_assert_true(g_bytes_equal(bytes_a, bytes_a2));
	g_assert_true(g_bytes_equal(bytes_a, bytes_b));
	g_assert_true(g_bytes_equal(bytes_a, bytes_back));
}

/* Fixed key order: [bundle] first, its keys in spec order, then payload, superblock, parts. */
static void
test_serialize_order(void)
{
	g_autoptr(OstickManifest) m = build_manifest(TRUE, 2);
	g_autoptr(GBytes) bytes = serialize_ok(m);
	g_autofree char *text = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
	static const char *const order[] = {"[bundle]\n", "\nformat=1\n",
		"\ncreated=", "\ncompatible=", "\nversion=", "\nos=", "\nref=", "\ntarget=",
		"\ntarget-timestamp=", "\nbase=", "[payload]\n", "\nparts=2\n",
		"\ninstall-size=", "[superblock]\n", "\nencoding=none\n", "[part.0]\n",
		"\ndecoded-size=5000\n", "[part.1]\n", "\ndecoded-size=5001\n"};
	const char *pos = text;

	for (gsize i = 0; i < G_N_ELEMENTS(order); i++) {
		const char *next = strstr(pos, order[i]);

		if (next == NULL)
			g_error("'%s' missing or out of order in:\n%s", order[i], text);
		pos = next + 1;
	}
}

typedef struct {
	const char *name;
	void (*spoil)(OstickManifest *m);
	int code;
} SpoilRow;

static void
spoil_no_parts(OstickManifest *m)
{
	ostick_manifest_set_n_parts(m, 0);
}

static void
spoil_feature(OstickManifest *m)
{
	m->required_features = g_strsplit("x-future", ";", -1);
}

static void
spoil_encoding(OstickManifest *m)
{
	g_free(m->parts[0].encoding);
	m->parts[0].encoding = g_strdup("x-zstd-99");
}

static void
spoil_format(OstickManifest *m)
{
	m->format = 2;
}

static void
spoil_target(OstickManifest *m)
{
	m->target[0] = 'X';
}

static void
spoil_compatible(OstickManifest *m)
{
	g_free(m->compatible);
	m->compatible = NULL;
}

static void
spoil_created(OstickManifest *m)
{
	g_free(m->created);
	m->created = g_strdup("now");
}

static const SpoilRow spoil_rows[] = {
	{"no-parts", spoil_no_parts, OSTICK_ERROR_FORMAT},
	{"unknown-feature", spoil_feature, OSTICK_ERROR_VERSION},
	{"unknown-encoding", spoil_encoding, OSTICK_ERROR_VERSION},
	{"format-2", spoil_format, OSTICK_ERROR_VERSION},
	{"bad-target", spoil_target, OSTICK_ERROR_FORMAT},
	{"no-compatible", spoil_compatible, OSTICK_ERROR_FORMAT},
	{"bad-created", spoil_created, OSTICK_ERROR_FORMAT},
};

/* The serializer validates first: it never writes a manifest a reader would refuse. */
static void
test_serialize_rejects(gconstpointer data)
{
	const SpoilRow *row = data;
	g_autoptr(OstickManifest) m = build_manifest(TRUE, 2);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes = NULL;

	row->spoil(m);
	bytes = ostick_manifest_serialize(m, &error);
	g_assert_error(error, OSTICK_ERROR, row->code);
	g_assert_null(bytes);
}

static void
test_is_delta(void)
{
	g_autoptr(OstickManifest) delta = build_manifest(TRUE, 1);
	g_autoptr(OstickManifest) scratch = build_manifest(FALSE, 1);

	g_assert_true(ostick_manifest_is_delta(delta));
	g_assert_false(ostick_manifest_is_delta(scratch));
}

static void
test_part_member_name(void)
{
	g_autofree char *first = ostick_part_member_name(0);
	g_autofree char *last = ostick_part_member_name(OSTICK_PARTS_MAX - 1);

	g_assert_cmpstr(first, ==, "delta/0");
	g_assert_cmpstr(last, ==, "delta/4095");
}

/* The identity check ignores the payload; the full check does not. */
static void
test_validate_identity(void)
{
	g_autoptr(OstickManifest) m = build_manifest(TRUE, 0);
	g_autoptr(GError) error = NULL;

	g_assert_true(ostick_manifest_validate_identity(m, &error));
	g_assert_no_error(error);
	g_assert_false(ostick_manifest_validate(m, &error));
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_FORMAT);
}

/* ---- JSON ---- */

static JsonNode *
manifest_to_json(const OstickManifest *m)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *text = NULL;

	json_builder_begin_object(builder);
	ostick_manifest_add_json(m, builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	text = json_generator_to_data(generator, NULL);
	json_parser_load_from_data(parser, text, -1, &error);
	g_assert_no_error(error);
	return json_node_copy(json_parser_get_root(parser));
}

static void
assert_json_member(JsonObject *o, const OstickMember *member, const char *name, gboolean is_part)
{
	g_assert_cmpuint(json_object_get_size(o), ==, is_part ? 5 : 4);
	g_assert_cmpstr(json_object_get_string_member(o, "name"), ==, name);
	g_assert_cmpint(json_object_get_int_member(o, "size"), ==, (gint64)member->size);
	g_assert_cmpstr(json_object_get_string_member(o, "sha256"), ==, member->sha256);
	g_assert_cmpstr(json_object_get_string_member(o, "encoding"), ==, member->encoding);
	if (is_part)
		g_assert_cmpint(json_object_get_int_member(o, "decoded_size"), ==,
			(gint64)member->decoded_size);
	else
		g_assert_false(json_object_has_member(o, "decoded_size"));
}

static void
assert_json_members(JsonObject *o, const OstickManifest *m)
{
	JsonArray *members = json_object_get_array_member(o, "members");

	g_assert_cmpuint(json_array_get_length(members), ==, m->n_parts + 1);
	assert_json_member(json_array_get_object_element(members, 0), &m->superblock,
		"delta/superblock", FALSE);
	for (guint i = 0; i < m->n_parts; i++) {
		g_autofree char *name = g_strdup_printf("delta/%u", i);

		assert_json_member(
			json_array_get_object_element(members, i + 1), &m->parts[i], name, TRUE);
	}
}

static void
assert_json_string_or_null(JsonObject *o, const char *name, const char *value)
{
	JsonNode *node = json_object_get_member(o, name);

	g_assert_nonnull(node);
	if (value == NULL)
		g_assert_true(JSON_NODE_HOLDS_NULL(node));
	else
		g_assert_cmpstr(json_node_get_string(node), ==, value);
}

static void
assert_json_identity(JsonObject *o, const OstickManifest *m)
{
	g_assert_cmpuint(json_object_get_size(o), ==, 13);
	g_assert_cmpint(json_object_get_int_member(o, "format"), ==, 1);
	g_assert_cmpstr(json_object_get_string_member(o, "created"), ==, m->created);
	g_assert_cmpstr(json_object_get_string_member(o, "compatible"), ==, m->compatible);
	g_assert_cmpstr(json_object_get_string_member(o, "version"), ==, m->version);
	g_assert_cmpstr(json_object_get_string_member(o, "os"), ==, m->os);
	g_assert_cmpstr(json_object_get_string_member(o, "ref"), ==, m->ref);
	assert_json_string_or_null(o, "description", m->description);
	g_assert_cmpstr(json_object_get_string_member(o, "target"), ==, m->target);
	g_assert_cmpint(
		json_object_get_int_member(o, "target_timestamp"), ==, (gint64)m->target_timestamp);
	assert_json_string_or_null(o, "base", m->base[0] ? m->base : NULL);
	g_assert_cmpint(json_object_get_int_member(o, "install_size"), ==, (gint64)m->install_size);
}

static void
test_json(gconstpointer data)
{
	g_autoptr(OstickManifest) m = build_row_manifest(data);
	g_autoptr(JsonNode) root = manifest_to_json(m);
	JsonObject *o = json_node_get_object(root);
	JsonArray *features = json_object_get_array_member(o, "required_features");

	assert_json_identity(o, m);
	g_assert_nonnull(features);
	g_assert_cmpuint(json_array_get_length(features), ==, 0);
	assert_json_members(o, m);
}

/* Fields at their limits (16 GiB sizes) and required features come through unchanged. */
static void
test_json_limits(void)
{
	g_autoptr(OstickManifest) m = build_limits_manifest();
	g_autoptr(JsonNode) root = NULL;
	JsonObject *o;
	JsonArray *features;

	m->target_timestamp = 1795477984;
	m->required_features = g_strsplit("first;second", ";", -1);
	root = manifest_to_json(m);
	o = json_node_get_object(root);
	assert_json_identity(o, m);
	features = json_object_get_array_member(o, "required_features");
	g_assert_cmpuint(json_array_get_length(features), ==, 2);
	g_assert_cmpstr(json_array_get_string_element(features, 0), ==, "first");
	g_assert_cmpstr(json_array_get_string_element(features, 1), ==, "second");
	assert_json_members(o, m);
}

#define ADD_ROWS(prefix, rows, func)                                                               \
	for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {                                           \
		g_autofree char *path = g_strdup_printf(prefix "/%s", rows[i].name);               \
		g_test_add_data_func(path, &rows[i], func);                                        \
	}

static void
add_parse_tests(void)
{
	g_test_add_func("/manifest/parse/valid-text", test_parse_valid_text);
	ADD_ROWS("/manifest/parse", edit_rows, test_edit);
	g_test_add_func("/manifest/parse/accept/from-scratch", test_parse_from_scratch);
	g_test_add_func("/manifest/parse/accept/description", test_parse_description);
	g_test_add_func("/manifest/parse/accept/unknown-ignored", test_parse_ignores_unknown);
	g_test_add_func("/manifest/parse/accept/parts-1", test_parse_one_part);
	g_test_add_func("/manifest/parse/zstd-part", test_parse_zstd_part);
	g_test_add_func("/manifest/parse/accept/exactly-1mib", test_parse_at_size_limit);
	g_test_add_func("/manifest/parse/reject/over-1mib", test_parse_over_size_limit);
	g_test_add_func("/manifest/parse/reject/nul-byte", test_parse_nul);
	g_test_add_func("/manifest/parse/reject/empty", test_parse_empty);
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	add_parse_tests();
	ADD_ROWS("/manifest/roundtrip", roundtrip_rows, test_roundtrip);
	g_test_add_func("/manifest/roundtrip/limits", test_roundtrip_limits);
	ADD_ROWS("/manifest/serialize/deterministic", roundtrip_rows, test_deterministic);
	g_test_add_func("/manifest/serialize/key-order", test_serialize_order);
	ADD_ROWS("/manifest/serialize/reject", spoil_rows, test_serialize_rejects);
	g_test_add_func("/manifest/is_delta", test_is_delta);
	g_test_add_func("/manifest/part_member_name", test_part_member_name);
	g_test_add_func("/manifest/validate_identity", test_validate_identity);
	ADD_ROWS("/manifest/add_json", roundtrip_rows, test_json);
	g_test_add_func("/manifest/add_json/limits", test_json_limits);
	return g_test_run();
}
