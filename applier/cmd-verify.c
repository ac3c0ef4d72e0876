/* cmd-verify.c: ostick-apply verify — would this bundle install here? Changes nothing. */
#include "cli.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <stdio.h>

static OstickDeviceOptions opt_device;

gboolean
cmd_verify(int argc, char **argv, GCancellable *cancellable, GError **error)
{
	g_autoptr(GOptionContext) context = g_option_context_new(
		"BUNDLE - check signature, every member's hash, and fit for this device");
	g_autoptr(OstickConfig) config = NULL;
	g_autoptr(OstickKeyring) keyring = NULL;
	g_autoptr(OstickInstallOptions) options = NULL;
	g_autoptr(OstickBundle) bundle = NULL;
	g_auto(OstickInstallResult) result = {0};

	ostick_cli_add_device_options(context, &opt_device);
	if (!ostick_parse_options(context, &argc, &argv, 1, "BUNDLE", error) ||
		(config = ostick_cli_load_config(&opt_device, error)) == NULL ||
		(keyring = ostick_keyring_load(config->keyring, error)) == NULL ||
		(bundle = ostick_cli_open_bundle(argv[1], error)) == NULL)
		return FALSE;
	options = ostick_cli_install_options(config, keyring);
	ostick_install_options_set_dry_run(options, TRUE);
	if (!ostick_bundle_install(bundle, options, &result, cancellable, error))
		return g_prefix_error(error, "%s: ", argv[1]), FALSE;
	if (result.outcome == OSTICK_OUTCOME_ALREADY_INSTALLED)
		printf("%s: OK: already installed (%s %s)%s\n", argv[1], result.os,
			result.to_version,
			result.reboot_pending ? "; not booted yet: it boots at the next restart"
					      : "");
	else
		printf("%s: OK: would install %s %s over %s\n", argv[1], result.os,
			result.to_version, result.from_version ? result.from_version : "nothing");
	return TRUE;
}
