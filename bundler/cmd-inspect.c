/* cmd-inspect.c: ostick-bundle inspect — what a bundle says, without installing anything. */
#include "cli.h"
#include "ostick-bundle-reader.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-hash.h"

#include <stdio.h>

static gboolean opt_json;
static char *opt_keyring;

static GOptionEntry entries[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "Print JSON", NULL},
	{"keyring", 0, 0, G_OPTION_ARG_FILENAME, &opt_keyring,
		"Also verify the signature against these public keys", "DIR"},
	{NULL}};

static guint
count_objects(const OstickSuperblock *sb)
{
	guint n = 0;

	for (guint i = 0; i < ostick_superblock_get_n_parts(sb); i++) {
		OstickDeltaPartInfo info;

		ostick_superblock_get_part(sb, i, &info);
		n += info.n_objects;
	}
	return n;
}

static void
add_signatures_json(OstickBundleReader *reader, JsonBuilder *b)
{
	GArray *sigs = ostick_bundle_reader_get_signatures(reader);
	const char *const *signers = ostick_bundle_reader_get_signer_ids(reader);

	json_builder_set_member_name(b, "signatures");
	json_builder_begin_array(b);
	for (guint i = 0; i < sigs->len; i++) {
		const OstickSignature *sig = &g_array_index(sigs, OstickSignature, i);
		char hex[2 * OSTICK_KEY_ID_LEN + 1];

		ostick_hex_encode(sig->key_id, OSTICK_KEY_ID_LEN, hex);
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "algorithm");
		json_builder_add_string_value(
			b, ostick_sig_algorithm_name(sig->algorithm) ?: "unknown");
		json_builder_set_member_name(b, "key_id");
		json_builder_add_string_value(b, hex);
		json_builder_set_member_name(b, "verified");
		json_builder_add_boolean_value(b, signers && g_strv_contains(signers, hex));
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

static void
print_json(OstickBundleReader *reader, const OstickSuperblock *sb)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	ostick_manifest_add_json(ostick_bundle_reader_get_manifest(reader), b);
	json_builder_set_member_name(b, "objects");
	json_builder_add_int_value(b, count_objects(sb));
	json_builder_set_member_name(b, "signature_verified");
	json_builder_add_boolean_value(b, ostick_bundle_reader_is_verified(reader));
	add_signatures_json(reader, b);
	json_builder_end_object(b);
	ostick_cli_print_json(b);
}

static void
print_member(const char *name, const OstickMember *member)
{
	g_autofree char *size = g_format_size(member->size);
	g_autofree char *decoded = g_format_size(member->decoded_size);

	if (member->decoded_size > 0)
		printf("  %-18s %10s  %-9s -> %-10s sha256 %.16s\n", name, size, member->encoding,
			decoded, member->sha256);
	else
		printf("  %-18s %10s  %-23s sha256 %.16s\n", name, size, member->encoding,
			member->sha256);
}

static void
print_signatures(OstickBundleReader *reader)
{
	GArray *sigs = ostick_bundle_reader_get_signatures(reader);
	const char *const *signers = ostick_bundle_reader_get_signer_ids(reader);

	printf("Signatures:    %u%s\n", sigs->len,
		ostick_bundle_reader_is_verified(reader)
			? ""
			: " (not verified; pass --keyring, or use verify)");
	for (guint i = 0; i < sigs->len; i++) {
		const OstickSignature *sig = &g_array_index(sigs, OstickSignature, i);
		char hex[2 * OSTICK_KEY_ID_LEN + 1];

		ostick_hex_encode(sig->key_id, OSTICK_KEY_ID_LEN, hex);
		printf("  %-18s key %s%s\n", ostick_sig_algorithm_name(sig->algorithm) ?: "unknown",
			hex, signers && g_strv_contains(signers, hex) ? "  verified" : "");
	}
}

static void
print_human(const char *path, OstickBundleReader *reader, const OstickSuperblock *sb)
{
	const OstickManifest *m = ostick_bundle_reader_get_manifest(reader);
	g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc((gint64)m->target_timestamp);
	g_autofree char *when_text =
		when ? g_date_time_format(when, "%Y-%m-%d %H:%M:%S UTC") : NULL;
	g_autofree char *install = g_format_size(m->install_size);

	printf("Bundle:        %s\nFormat:        %u\nCreated:       %s\n", path, m->format,
		m->created);
	printf("Compatible:    %s\nVersion:       %s\nOS:            %s\nRef:           %s\n",
		m->compatible, m->version, m->os, m->ref);
	if (m->description)
		printf("Description:   %s\n", m->description);
	printf("Target:        %s (%s)\n", m->target, when_text ? when_text : "?");
	printf("Base:          %s\n", m->base[0] ? m->base : "(none: full tree)");
	printf("Install size:  %s, %u objects in %u part%s\n", install, count_objects(sb),
		m->n_parts, m->n_parts == 1 ? "" : "s");
	print_signatures(reader);
	printf("Payload:\n");
	print_member(OSTICK_MEMBER_SUPERBLOCK, &m->superblock);
	for (guint i = 0; i < m->n_parts; i++) {
		g_autofree char *name = ostick_part_member_name(i);

		print_member(name, &m->parts[i]);
	}
}

gboolean
cmd_inspect(int argc, char **argv, GCancellable *cancellable, GError **error)
{
	g_autoptr(GOptionContext) context =
		g_option_context_new("BUNDLE - show what a bundle says");
	g_autoptr(OstickBundleReader) reader = NULL;
	g_autoptr(OstickKeyring) keyring = NULL;
	g_auto(OstickFd) fd = -1;
	const OstickSuperblock *sb;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!ostick_parse_options(context, &argc, &argv, 1, "BUNDLE", error))
		return FALSE;
	if (opt_keyring && (keyring = ostick_keyring_load(opt_keyring, error)) == NULL)
		return FALSE;
	fd = ostick_open_input(argv[1], error);
	if (fd < 0 || (reader = ostick_bundle_reader_new(fd, cancellable, error)) == NULL)
		return FALSE;
	if (keyring ? !ostick_bundle_reader_verify(reader, keyring, error)
		    : !ostick_bundle_reader_read_unverified(reader, error))
		return FALSE;
	sb = ostick_bundle_reader_read_superblock(reader, error);
	if (sb == NULL)
		return FALSE;
	if (opt_json)
		print_json(reader, sb);
	else
		print_human(argv[1], reader, sb);
	return TRUE;
}
