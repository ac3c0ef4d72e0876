/* cmd-install.c: ostick-apply install — verify, check, apply, deploy one bundle. */
#include "cli.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <stdio.h>
#include <unistd.h>

static OstickDeviceOptions opt_device;
static gboolean opt_no_deploy;
static char *opt_progress;
static int opt_progress_fd = -1;
static int opt_fd = -1;

static GOptionEntry entries[] = {
	{"no-deploy", 0, 0, G_OPTION_ARG_NONE, &opt_no_deploy,
		"Apply into the repo and set the ref, but do not deploy", NULL},
	{"progress", 0, 0, G_OPTION_ARG_STRING, &opt_progress,
		"auto (default), tty (bar on stderr), json (lines on stdout) or none", "MODE"},
	{"progress-fd", 0, 0, G_OPTION_ARG_INT, &opt_progress_fd,
		"Write JSON progress lines to this descriptor", "N"},
	{"fd", 0, 0, G_OPTION_ARG_INT, &opt_fd,
		"Read the bundle from this descriptor (instead of BUNDLE)", "N"},
	{NULL}};

/* One line for humans: on stdout, unless JSON lines go there (a UI reads only JSON). */
static void
report(const OstickInstallResult *r, const OstickCliProgress *progress)
{
	const char *from = r->from_version ? r->from_version : "nothing";
	FILE *out = progress->mode == OSTICK_PROGRESS_JSON && progress->fd == STDOUT_FILENO
			    ? stderr
			    : stdout;

	if (r->warning != NULL)
		ostick_cli_log(OSTICK_LOG_WARNING, "installed, but: %s", r->warning);
	if (r->outcome == OSTICK_OUTCOME_ALREADY_INSTALLED)
		fprintf(out, "already installed: %s %s (%.12s)%s\n", r->os, r->to_version,
			r->to_commit,
			r->reboot_pending ? "; not booted yet: it boots at the next restart" : "");
	else if (opt_no_deploy)
		fprintf(out, "applied %s %s (%.12s) into the repo, ref %s; not deployed\n", r->os,
			r->to_version, r->to_commit, r->ref);
	else
		fprintf(out, "installed %s %s (%.12s) over %s; it boots at the next restart\n",
			r->os, r->to_version, r->to_commit, from);
}

gboolean
cmd_install(int argc, char **argv, GCancellable *cancellable, GError **error)
{
	g_autoptr(GOptionContext) context =
		g_option_context_new("(BUNDLE | - | --fd N) - install an update bundle");
	g_autoptr(OstickConfig) config = NULL;
	g_autoptr(OstickKeyring) keyring = NULL;
	g_autoptr(OstickInstallOptions) options = NULL;
	g_autoptr(OstickBundle) bundle = NULL;
	g_auto(OstickInstallResult) result = {0};
	g_auto(OstickFd) fd = -1;
	OstickCliProgress progress;
	gboolean ok;

	g_option_context_add_main_entries(context, entries, NULL);
	ostick_cli_add_device_options(context, &opt_device);
	if (!g_option_context_parse(context, &argc, &argv, error) ||
		!ostick_cli_progress_init(&progress, opt_progress, opt_progress_fd, error) ||
		(config = ostick_cli_load_config(&opt_device, error)) == NULL ||
		(fd = ostick_cli_open_bundle_input(argc, argv, opt_fd, error)) < 0 ||
		(keyring = ostick_keyring_load(config->keyring, error)) == NULL ||
		(bundle = ostick_bundle_open_fd(fd, error)) == NULL)
		return FALSE;
	options = ostick_cli_install_options(config, keyring);
	ostick_install_options_set_deploy(options, !opt_no_deploy);
	ostick_install_options_set_progress(options, ostick_cli_progress_report, &progress);
	ok = ostick_bundle_install(bundle, options, &result, cancellable, error);
	ostick_cli_progress_finish(&progress);
	ostick_cli_progress_result(
		&progress, ostick_outcome_name(result.outcome), &result, ok ? NULL : *error);
	if (ok)
		report(&result, &progress);
	return ok;
}
