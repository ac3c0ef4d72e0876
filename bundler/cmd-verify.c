/* cmd-verify.c: ostick-bundle verify — signature, then every member's size and hash. */
#include "cli.h"
#include "ostick-bundle-reader.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <stdio.h>

static char *opt_keyring;

static GOptionEntry entries[] = {
	{"keyring", 0, 0, G_OPTION_ARG_FILENAME, &opt_keyring,
		"Trusted public keys: a directory of *.pem/*.pub files, or one PEM file (required)",
		"DIR"},
	{NULL}};

typedef struct {
	guint64 done;
	guint64 total;
	guint part;
	guint parts;
	gint64 start_us;
} VerifyProgress;

static gboolean
count_chunk(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	VerifyProgress *p = user_data;
	OstickProgress progress = {OSTICK_STAGE_VERIFY, p->done += len, p->total, p->part, p->parts,
		g_get_monotonic_time() - p->start_us};

	ostick_cli_progress(&progress, NULL);
	return TRUE;
}

static gboolean
read_payload(OstickBundleReader *reader, GCancellable *cancellable, GError **error)
{
	const OstickManifest *m = ostick_bundle_reader_get_manifest(reader);
	VerifyProgress progress = {0, m->superblock.size, 0, m->n_parts, g_get_monotonic_time()};

	for (guint i = 0; i < m->n_parts; i++)
		progress.total += m->parts[i].size;
	if (ostick_bundle_reader_read_superblock(reader, error) == NULL)
		return FALSE;
	progress.done = m->superblock.size;
	for (guint i = 0; i < m->n_parts; i++) {
		progress.part = i;
		if (g_cancellable_set_error_if_cancelled(cancellable, error) ||
			!ostick_bundle_reader_check_part(
				reader, i, count_chunk, &progress, NULL, error))
			return FALSE;
	}
	ostick_cli_progress_done();
	return ostick_bundle_reader_finish(reader, error);
}

gboolean
cmd_verify(int argc, char **argv, GCancellable *cancellable, GError **error)
{
	g_autoptr(GOptionContext) context = g_option_context_new("BUNDLE - check a bundle");
	g_autoptr(OstickBundleReader) reader = NULL;
	g_autoptr(OstickKeyring) keyring = NULL;
	g_auto(OstickFd) fd = -1;
	const OstickManifest *m;
	const char *const *signers;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!ostick_parse_options(context, &argc, &argv, 1, "BUNDLE", error))
		return FALSE;
	if (opt_keyring == NULL)
		return ostick_throw_usage(error, "missing --keyring");
	keyring = ostick_keyring_load(opt_keyring, error);
	if (keyring == NULL)
		return FALSE;
	fd = ostick_open_input(argv[1], error);
	if (fd < 0 || (reader = ostick_bundle_reader_new(fd, cancellable, error)) == NULL ||
		!ostick_bundle_reader_verify(reader, keyring, error) ||
		!read_payload(reader, cancellable, error))
		return g_prefix_error(error, "%s: ", argv[1]), FALSE;
	m = ostick_bundle_reader_get_manifest(reader);
	signers = ostick_bundle_reader_get_signer_ids(reader);
	printf("%s: OK: %s %s for '%s', signed by key %.16s%s, %u members verified\n", argv[1],
		m->ref, m->version, m->compatible, signers[0],
		g_strv_length((GStrv)signers) > 1 ? " and others" : "", m->n_parts + 3);
	return TRUE;
}
