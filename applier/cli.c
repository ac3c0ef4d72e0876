/* cli.c: shared pieces of the applier's commands. */
#include "cli.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "usb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

OstickInstallOptions *
ostick_cli_install_options(const OstickConfig *config, const OstickKeyring *keyring)
{
	OstickInstallOptions *options = ostick_install_options_new();

	ostick_install_options_set_sysroot(options, config->sysroot);
	ostick_install_options_set_os(options, config->os);
	ostick_install_options_set_compatible(options, config->compatible);
	ostick_install_options_set_keyring(options, keyring);
	ostick_install_options_set_allow_downgrade(options, config->allow_downgrade);
	return options;
}

int
ostick_cli_open_bundle_input(int argc, char **argv, int fd_option, GError **error)
{
	if (fd_option >= 0 && argc > 1)
		return ostick_throw_usage(error, "give either BUNDLE or --fd, not both"), -1;
	if (fd_option >= 0) {
		int fd = fcntl(fd_option, F_DUPFD_CLOEXEC, 3);

		if (fd < 0)
			ostick_throw_usage(error, "--fd %d: %s", fd_option, g_strerror(errno));
		return fd;
	}
	if (argc < 2)
		return ostick_throw_usage(error, "missing BUNDLE (a path, or - for stdin)"), -1;
	if (argc > 2)
		return ostick_throw_usage(error, "unexpected argument '%s'", argv[2]), -1;
	return ostick_open_input(argv[1], error);
}

OstickBundle *
ostick_cli_open_bundle(const char *path, GError **error)
{
	g_auto(OstickFd) fd = ostick_open_input(path, error);

	return fd < 0 ? NULL : ostick_bundle_open_fd(fd, error);
}

#define REDRAW_US (100 * 1000)

void
ostick_cli_add_device_options(GOptionContext *context, OstickDeviceOptions *o)
{
	GOptionEntry entries[] = {
		{"config", 'c', 0, G_OPTION_ARG_FILENAME, &o->config,
			"Configuration file (default " OSTICK_DEFAULT_CONFIG ")", "FILE"},
		{"sysroot", 0, 0, G_OPTION_ARG_FILENAME, &o->sysroot,
			"OSTree sysroot (default: [device] sysroot, or /)", "DIR"},
		{"os", 0, 0, G_OPTION_ARG_STRING, &o->os,
			"OS name / stateroot (default: [device] os, or the booted one)", "NAME"},
		{"keyring", 0, 0, G_OPTION_ARG_FILENAME, &o->keyring,
			"Trusted public keys (default: [device] keyring, or " OSTICK_DEFAULT_KEYRING
			")",
			"DIR"},
		{"compatible", 0, 0, G_OPTION_ARG_STRING, &o->compatible,
			"This device's compatible string (default: [device] compatible)", "STRING"},
		{"allow-downgrade", 0, 0, G_OPTION_ARG_NONE, &o->allow_downgrade,
			"Install even if older than what runs now", NULL},
		{NULL}};
	/* GOption copies the entries (they point at @o's fields): a stack array is fine. */
	g_option_context_add_main_entries(context, entries, NULL);
}

static void
override(char **field, const char *value)
{
	if (value != NULL) {
		g_free(*field);
		*field = g_strdup(value);
	}
}

OstickConfig *
ostick_cli_load_config(const OstickDeviceOptions *o, GError **error)
{
	OstickConfig *config = ostick_config_load(
		o->config ? o->config : OSTICK_DEFAULT_CONFIG, o->config != NULL, error);

	if (config == NULL)
		return NULL;
	override(&config->sysroot, o->sysroot);
	override(&config->os, o->os);
	override(&config->keyring, o->keyring);
	override(&config->compatible, o->compatible);
	if (o->allow_downgrade)
		config->allow_downgrade = TRUE;
	return config;
}

void
ostick_cli_log(OstickLogPriority priority, const char *fmt, ...)
{
	g_autofree char *message = NULL;
	va_list args;

	va_start(args, fmt);
	message = g_strdup_vprintf(fmt, args);
	va_end(args);
	/* One line per message: the journal and log collectors split on newlines. */
	g_strdelimit(message, "\n", ' ');
	if (g_getenv("JOURNAL_STREAM") != NULL)
		fprintf(stderr, "<%d>ostick-apply: %s\n", priority, message);
	else
		fprintf(stderr, "ostick-apply: %s\n", message);
}

gboolean
ostick_cli_progress_init(OstickCliProgress *p, const char *mode, int fd, GError **error)
{
	static const char *const names[] = {"auto", "tty", "json", "none"};

	memset(p, 0, sizeof *p);
	p->fd = fd >= 0 ? fd : STDOUT_FILENO;
	p->mode = OSTICK_PROGRESS_AUTO;
	for (guint i = 0; mode != NULL && i < G_N_ELEMENTS(names); i++) {
		if (strcmp(mode, names[i]) == 0) {
			p->mode = (OstickProgressMode)i;
			return TRUE;
		}
	}
	if (mode != NULL)
		return ostick_throw_usage(error, "--progress must be auto, tty, json or none");
	if (fd >= 0)
		p->mode = OSTICK_PROGRESS_JSON;
	else if (!isatty(STDERR_FILENO))
		p->mode = OSTICK_PROGRESS_NONE;
	else
		p->mode = OSTICK_PROGRESS_TTY;
	return TRUE;
}

static guint
terminal_columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

static void
write_line(int fd, const char *text)
{
	g_autofree char *line = g_strconcat(text, "\n", NULL);

	(void)ostick_write_all(fd, line, strlen(line), NULL);
}

void
ostick_cli_progress_report(const OstickProgress *event, gpointer user_data)
{
	OstickCliProgress *p = user_data;
	gint64 now = g_get_monotonic_time();
	gboolean boundary = event->bytes_total == 0 || event->bytes_done == event->bytes_total;
	g_autofree char *text = NULL;

	if (p->mode == OSTICK_PROGRESS_NONE || (!boundary && now - p->last_draw_us < REDRAW_US))
		return;
	p->last_draw_us = now;
	if (p->mode == OSTICK_PROGRESS_JSON) {
		text = ostick_progress_format_json(event);
		write_line(p->fd, text);
		return;
	}
	text = ostick_progress_format_bar(event, terminal_columns());
	fprintf(stderr, "\r%s\033[K", text);
	p->drawn = TRUE;
}

void
ostick_cli_progress_finish(OstickCliProgress *p)
{
	if (p->drawn)
		fputc('\n', stderr);
	p->drawn = FALSE;
}

static void
add_string(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

static void
add_int(JsonBuilder *b, const char *name, gint64 value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

void
ostick_cli_progress_result(OstickCliProgress *p, const char *outcome, const OstickInstallResult *r,
	const GError *error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autofree char *text = NULL;
	struct rusage usage = {0};

	if (p->mode != OSTICK_PROGRESS_JSON)
		return;
	(void)getrusage(RUSAGE_SELF, &usage);
	json_builder_begin_object(b);
	add_string(b, "event", "result");
	add_string(b, "outcome", outcome);
	add_int(b, "exit_code", ostick_error_to_exit_code(error));
	add_string(b, "message", error ? error->message : NULL);
	add_string(b, "os", r->os);
	add_string(b, "from_version", r->from_version);
	add_string(b, "from_commit", r->from_commit);
	add_string(b, "to_version", r->to_version);
	add_string(b, "to_commit", r->to_commit);
	json_builder_set_member_name(b, "reboot_pending");
	json_builder_add_boolean_value(b, r->reboot_pending);
	add_int(b, "bytes_read", (gint64)r->bytes_read);
	add_int(b, "peak_staging_bytes", (gint64)r->peak_staging);
	add_int(b, "peak_rss_kib", usage.ru_maxrss);
	add_int(b, "duration_ms", r->duration_us / 1000);
	json_builder_end_object(b);
	text = ostick_json_to_string(b, FALSE);
	write_line(p->fd, text);
}

static void
log_from_handler(int priority, const char *message, gpointer user_data)
{
	ostick_cli_log((OstickLogPriority)priority, "%s", message);
}

static void
log_outcome(const OstickUsbResult *r, const GError *error)
{
	const OstickInstallResult *i = &r->install;

	switch (r->outcome) {
	case OSTICK_USB_INSTALLED:
		ostick_cli_log(OSTICK_LOG_NOTICE, "%s: installed %s %s (%.12s) over %s from %s",
			r->device, i->os, i->to_version, i->to_commit,
			i->from_version ? i->from_version : "nothing", r->bundle);
		break;
	case OSTICK_USB_UP_TO_DATE:
		if (i->reboot_pending)
			ostick_cli_log(OSTICK_LOG_NOTICE,
				"%s: up to date, nothing to install; %s %s (%.12s) is installed but "
				"not booted yet (reboot pending)",
				r->device, i->os, i->to_version, i->to_commit);
		else
			ostick_cli_log(
				OSTICK_LOG_NOTICE, "%s: up to date, nothing to install", r->device);
		break;
	case OSTICK_USB_NOTHING_FOUND:
		ostick_cli_log(OSTICK_LOG_INFO, "%s: no update bundle on this stick", r->device);
		break;
	case OSTICK_USB_FAILED:
		ostick_cli_log(OSTICK_LOG_ERROR, "%s: failed: %s", r->device,
			error ? error->message : "unknown error");
		break;
	}
}

static char **
default_reboot_command(void)
{
	const char *systemd[] = {"systemctl", "reboot", NULL};
	const char *plain[] = {"reboot", NULL};

	return g_strdupv((
		char **)(g_file_test("/run/systemd/system", G_FILE_TEST_IS_DIR) ? systemd : plain));
}

/* [policy] reboot=after-install: logged, delayed (so the technician can read the result), then
 * the configured command. */
static gboolean
reboot_after_install(const OstickConfig *config, GCancellable *cancellable, GError **error)
{
	g_auto(GStrv) argv = config->reboot_command ? g_strdupv(config->reboot_command)
						    : default_reboot_command();
	g_autofree char *command = g_strjoinv(" ", argv);
	gint status = 0;

	ostick_cli_log(OSTICK_LOG_NOTICE, "rebooting in %u s ([policy] reboot=after-install): %s",
		config->reboot_delay, command);
	for (guint i = 0; i < config->reboot_delay * 10; i++) {
		if (g_cancellable_set_error_if_cancelled(cancellable, error))
			return FALSE;
		g_usleep(G_USEC_PER_SEC / 10);
	}
	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
		    error) ||
		!g_spawn_check_wait_status(status, error))
		return g_prefix_error(error, "reboot command '%s': ", command), FALSE;
	return TRUE;
}

/* The reboot policy for a target installed earlier but not booted (an install the reboot never
 * followed) is one reboot per target: if the device then comes up on the old deployment again
 * (a bootloader that keeps starting it), a stick left in must not restart it in a loop. The
 * mark is in the running OS's /var (reboot_pending is only ever set on a booted sysroot). */
#define PENDING_REBOOT_MARK "/var/lib/ostick/rebooted-for-pending"

static gboolean
mark_pending_reboot(const char *commit)
{
	g_autofree char *old = NULL;
	g_autoptr(GError) local_error = NULL;

	if (g_file_get_contents(PENDING_REBOOT_MARK, &old, NULL, NULL) &&
		strcmp(g_strstrip(old), commit) == 0) {
		ostick_cli_log(OSTICK_LOG_WARNING,
			"not rebooting: %.12s is the default deployment, but the device came up "
			"on another one after a reboot for it already (check the boot loader)",
			commit);
		return FALSE;
	}
	if (g_mkdir_with_parents("/var/lib/ostick", 0755) < 0 ||
		!g_file_set_contents(PENDING_REBOOT_MARK, commit, -1, &local_error)) {
		ostick_cli_log(OSTICK_LOG_WARNING,
			"not rebooting: cannot record the reboot in %s: %s", PENDING_REBOOT_MARK,
			local_error ? local_error->message : g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* [policy] reboot=after-install: after an install, and for a target installed before but not
 * booted yet (once, see above). */
static gboolean
wants_reboot(const OstickUsbResult *r, const OstickConfig *config)
{
	if (config->reboot != OSTICK_REBOOT_AFTER_INSTALL)
		return FALSE;
	if (r->outcome == OSTICK_USB_INSTALLED) {
		/* A new deployment: its own pending reboot may come. */
		if (r->install.reboot_pending)
			(void)unlink(PENDING_REBOOT_MARK);
		return TRUE;
	}
	return r->outcome == OSTICK_USB_UP_TO_DATE && r->install.reboot_pending &&
	       r->install.to_commit != NULL && mark_pending_reboot(r->install.to_commit);
}

gboolean
ostick_cli_handle_stick(const char *device, const OstickConfig *config,
	const OstickKeyring *keyring, OstickCliProgress *progress, GCancellable *cancellable,
	GError **error)
{
	g_auto(OstickUsbResult) result = {0};
	OstickUsbOptions options = {
		config, keyring, ostick_cli_progress_report, progress, log_from_handler, NULL};
	gboolean ok = ostick_usb_handle(device, &options, &result, cancellable, error);

	ostick_cli_progress_finish(progress);
	log_outcome(&result, ok ? NULL : *error);
	/* The stick's outcome (up-to-date, nothing-found...), not only the install's. */
	ostick_cli_progress_result(progress, ostick_usb_outcome_name(result.outcome),
		&result.install, ok ? NULL : *error);
	if (ok && wants_reboot(&result, config))
		return reboot_after_install(config, cancellable, error);
	return ok;
}
