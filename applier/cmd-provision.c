/* cmd-provision.c: ostick-apply provision — lay out blank storage from a full bundle (factory). */
#include "cli.h"
#include "config.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <stdio.h>
#include <unistd.h>

static char *opt_sysroot;
static char *opt_os;
static char *opt_bootloader;
static char **opt_kargs;
static char *opt_compatible;
static char *opt_keyring;
static char *opt_device_config;
static char *opt_progress;
static int opt_progress_fd = -1;
static int opt_fd = -1;

static GOptionEntry entries[] = {
	{"sysroot", 0, 0, G_OPTION_ARG_FILENAME, &opt_sysroot,
		"The blank storage, mounted here (its own filesystem; required)", "DIR"},
	{"os", 0, 0, G_OPTION_ARG_STRING, &opt_os,
		"The OS (stateroot) to create: the one the bundle is for (required)", "NAME"},
	{"bootloader", 0, 0, G_OPTION_ARG_STRING, &opt_bootloader,
		"Boot configuration libostree writes: uboot, grub2, syslinux or none (default)",
		"NAME"},
	{"karg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_kargs,
		"A kernel argument of the deployment, e.g. root=LABEL=rootfs (repeatable)", "ARG"},
	{"compatible", 0, 0, G_OPTION_ARG_STRING, &opt_compatible,
		"Refuse a bundle not made for this compatible string", "STRING"},
	{"keyring", 0, 0, G_OPTION_ARG_FILENAME, &opt_keyring,
		"Trusted public keys: verify the bundle, and become the device's keyring "
		"(default " OSTICK_DEFAULT_KEYRING ")",
		"DIR"},
	{"device-config", 0, 0, G_OPTION_ARG_FILENAME, &opt_device_config,
		"The device's /etc/ostick/ostick.conf (default: one naming the bundle's compatible "
		"string and the OS)",
		"FILE"},
	{"progress", 0, 0, G_OPTION_ARG_STRING, &opt_progress,
		"auto (default), tty (bar on stderr), json (lines on stdout) or none", "MODE"},
	{"progress-fd", 0, 0, G_OPTION_ARG_INT, &opt_progress_fd,
		"Write JSON progress lines to this descriptor", "N"},
	{"fd", 0, 0, G_OPTION_ARG_INT, &opt_fd,
		"Read the bundle from this descriptor (instead of BUNDLE)", "N"},
	{NULL}};

static gboolean
check_arguments(GError **error)
{
	if (opt_sysroot == NULL)
		return ostick_throw_usage(error, "missing --sysroot DIR");
	if (opt_os == NULL)
		return ostick_throw_usage(error, "missing --os NAME");
	return TRUE;
}

/* The device config, checked as the device will read it: a typo must fail here, at the
 * station, not on the device. Its compatible string, if any, must be the bundle's. */
static gboolean
load_device_config(OstickProvisionOptions *options, GError **error)
{
	g_autoptr(OstickConfig) config = NULL;
	g_autofree char *text = NULL;

	if (opt_device_config == NULL)
		return TRUE;
	config = ostick_config_load(opt_device_config, TRUE, error);
	if (config == NULL || !g_file_get_contents(opt_device_config, &text, NULL, error))
		return g_prefix_error(error, "--device-config: "), FALSE;
	if (opt_compatible && config->compatible && g_strcmp0(opt_compatible, config->compatible))
		return ostick_throw_usage(error,
			"--compatible '%s' and the device config's '%s' differ", opt_compatible,
			config->compatible);
	if (opt_compatible == NULL && config->compatible)
		ostick_provision_options_set_compatible(options, config->compatible);
	ostick_provision_options_set_device_config(options, text);
	return TRUE;
}

static OstickProvisionOptions *
make_options(const OstickKeyring *keyring, OstickCliProgress *progress, GError **error)
{
	g_autoptr(OstickProvisionOptions) options = ostick_provision_options_new();

	ostick_provision_options_set_sysroot(options, opt_sysroot);
	ostick_provision_options_set_os(options, opt_os);
	if (opt_bootloader && !ostick_provision_options_set_bootloader(options, opt_bootloader))
		return ostick_throw_usage(error,
			       "--bootloader: '%s' is not uboot, grub2, syslinux or none",
			       opt_bootloader),
		       NULL;
	for (char **karg = opt_kargs; karg && *karg; karg++)
		ostick_provision_options_add_karg(options, *karg);
	ostick_provision_options_set_compatible(options, opt_compatible);
	ostick_provision_options_set_keyring(options, keyring);
	ostick_provision_options_set_progress(options, ostick_cli_progress_report, progress);
	if (!load_device_config(options, error))
		return NULL;
	return g_steal_pointer(&options);
}

gboolean
cmd_provision(int argc, char **argv, GCancellable *cancellable, GError **error)
{
	g_autoptr(GOptionContext) context = g_option_context_new(
		"(BUNDLE | - | --fd N) - lay out blank storage from a full bundle");
	g_autoptr(OstickKeyring) keyring = NULL;
	g_autoptr(OstickProvisionOptions) options = NULL;
	g_autoptr(OstickBundle) bundle = NULL;
	g_auto(OstickInstallResult) result = {0};
	g_auto(OstickFd) fd = -1;
	OstickCliProgress progress;
	gboolean ok;

	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_set_description(context,
		"The storage must be mounted at --sysroot and empty (but for lost+found). After the\n"
		"same checks as an install it gets a sysroot, the OS, the bundle deployed with its\n"
		"boot configuration, and /etc/ostick (keyring and config) in the deployment. On\n"
		"failure it is left empty again. Installing the bootloader binary itself (U-Boot,\n"
		"extlinux, GRUB) stays with the board's own tools.");
	if (!g_option_context_parse(context, &argc, &argv, error) || !check_arguments(error) ||
		(fd = ostick_cli_open_bundle_input(argc, argv, opt_fd, error)) < 0 ||
		!ostick_cli_progress_init(&progress, opt_progress, opt_progress_fd, error) ||
		(keyring = ostick_keyring_load(
			 opt_keyring ? opt_keyring : OSTICK_DEFAULT_KEYRING, error)) == NULL ||
		(options = make_options(keyring, &progress, error)) == NULL ||
		(bundle = ostick_bundle_open_fd(fd, error)) == NULL)
		return FALSE;
	ok = ostick_bundle_provision(bundle, options, &result, cancellable, error);
	ostick_cli_progress_finish(&progress);
	ostick_cli_progress_result(
		&progress, ostick_outcome_name(result.outcome), &result, ok ? NULL : *error);
	if (ok)
		fprintf(progress.mode == OSTICK_PROGRESS_JSON && progress.fd == STDOUT_FILENO
				? stderr
				: stdout,
			"provisioned %s: %s %s (%.12s) deployed\n", opt_sysroot, result.os,
			result.to_version, result.to_commit);
	if (ok && result.warning)
		ostick_cli_log(OSTICK_LOG_WARNING, "provisioned, but: %s", result.warning);
	return ok;
}
