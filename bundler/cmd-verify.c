/* cmd-verify.c: ostick-bundle verify — signature, then every member's size and hash. */
#include "cli.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <stdio.h>

static char *opt_keyring;

static GOptionEntry entries[] = {
	{"keyring", 0, 0, G_OPTION_ARG_FILENAME, &opt_keyring,
		"Trusted public keys: a directory of *.pem/*.pub files, or one PEM file (required)",
		"DIR"},
	{NULL}};

static void
show_progress(const OstickProgress *progress, gpointer user_data)
{
	if (progress->stage == OSTICK_STAGE_DONE)
		ostick_cli_progress_done();
	else
		ostick_cli_progress(progress, NULL);
}

gboolean
cmd_verify(int argc, char **argv, GCancellable *cancellable, GError **error)
{
	g_autoptr(GOptionContext) context = g_option_context_new("BUNDLE - check a bundle");
	g_autoptr(OstickBundle) bundle = NULL;
	g_autoptr(OstickKeyring) keyring = NULL;
	g_auto(OstickFd) fd = -1;
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
	if (fd < 0 || (bundle = ostick_bundle_open_fd(fd, error)) == NULL ||
		!ostick_bundle_verify(bundle, keyring, show_progress, NULL, cancellable, error))
		return g_prefix_error(error, "%s: ", argv[1]), FALSE;
	signers = ostick_bundle_get_signer_ids(bundle);
	printf("%s: OK: %s %s for '%s', signed by key %.16s%s, %u members verified\n", argv[1],
		ostick_bundle_get_ref(bundle), ostick_bundle_get_version(bundle),
		ostick_bundle_get_compatible(bundle), signers[0],
		g_strv_length((GStrv)signers) > 1 ? " and others" : "",
		ostick_bundle_get_n_parts(bundle) + 3);
	return TRUE;
}
