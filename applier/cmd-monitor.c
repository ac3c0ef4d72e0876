/* cmd-monitor.c: ostick-apply monitor — the udev rule and unit, for systems without systemd. */
#include "cli.h"
#include "device.h"
#include "ostick-error.h"

static OstickDeviceOptions opt_device;
static gboolean opt_once;

static GOptionEntry entries[] = {
	{"once", 0, 0, G_OPTION_ARG_NONE, &opt_once,
		"Handle the sticks present now, then exit (for an init script)", NULL},
	{NULL}};

typedef struct {
	OstickConfig *config;
	OstickKeyring *keyring;
	GCancellable *cancellable;
	GError *error; /* the last failure, for the exit code with --once */
} Monitor;

static void
on_stick(const char *devnode, gpointer user_data)
{
	Monitor *m = user_data;
	g_autoptr(GError) error = NULL;
	OstickCliProgress progress;

	(void)ostick_cli_progress_init(&progress, "none", -1, NULL);
	/* Not every block device is a stick for us (the bus check says which); others are quiet. */
	if (!ostick_cli_handle_stick(
		    devnode, m->config, m->keyring, &progress, m->cancellable, &error) &&
		!g_error_matches(error, OSTICK_ERROR, OSTICK_ERROR_INCOMPATIBLE)) {
		g_clear_error(&m->error);
		m->error = g_steal_pointer(&error);
	}
}

gboolean
cmd_monitor(int argc, char **argv, GCancellable *cancellable, GError **error)
{
	g_autoptr(GOptionContext) context =
		g_option_context_new("- watch for sticks and install from them (no systemd)");
	g_autoptr(OstickConfig) config = NULL;
	g_autoptr(OstickKeyring) keyring = NULL;
	Monitor m = {NULL, NULL, cancellable, NULL};

	g_option_context_add_main_entries(context, entries, NULL);
	ostick_cli_add_device_options(context, &opt_device);
	if (!ostick_parse_options(context, &argc, &argv, 0, "", error) ||
		(config = ostick_cli_load_config(&opt_device, error)) == NULL ||
		(keyring = ostick_keyring_load(config->keyring, error)) == NULL)
		return FALSE;
	m.config = config;
	m.keyring = keyring;
	ostick_cli_log(OSTICK_LOG_INFO, "watching for update sticks%s", opt_once ? " (once)" : "");
	if (!ostick_stick_monitor(on_stick, &m, opt_once, cancellable, error)) {
		g_clear_error(&m.error);
		return FALSE;
	}
	if (m.error != NULL) {
		g_propagate_error(error, m.error);
		return FALSE;
	}
	return TRUE;
}
