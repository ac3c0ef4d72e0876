/* cmd-usb.c: ostick-apply usb DEVICE — what the udev rule's unit runs for a stick. */
#include "cli.h"
#include "ostick-error.h"

static OstickDeviceOptions opt_device;
static char *opt_progress;

static GOptionEntry entries[] = {{"progress", 0, 0, G_OPTION_ARG_STRING, &opt_progress,
					 "auto (default), tty, json or none", "MODE"},
	{NULL}};

gboolean
cmd_usb(int argc, char **argv, GCancellable *cancellable, GError **error)
{
	g_autoptr(GOptionContext) context = g_option_context_new(
		"DEVICE - install the newest applicable bundle from a stick (sda1 or /dev/sda1)");
	g_autoptr(OstickConfig) config = NULL;
	g_autoptr(OstickKeyring) keyring = NULL;
	OstickCliProgress progress;

	g_option_context_add_main_entries(context, entries, NULL);
	ostick_cli_add_device_options(context, &opt_device);
	if (!ostick_parse_options(context, &argc, &argv, 1, "DEVICE", error) ||
		!ostick_cli_progress_init(&progress, opt_progress, -1, error) ||
		(config = ostick_cli_load_config(&opt_device, error)) == NULL ||
		(keyring = ostick_keyring_load(config->keyring, error)) == NULL)
		return FALSE;
	return ostick_cli_handle_stick(argv[1], config, keyring, &progress, cancellable, error);
}
