/* cli.h: what the applier's commands share: settings from config and flags, messages that read
 * well on a terminal and in the journal, and progress rendering. */
#pragma once

#include "config.h"
#include "install.h"
#include "ostick-cli.h"
#include "ostick-progress.h"

#include <gio/gio.h>

G_BEGIN_DECLS

typedef gboolean (*OstickCommandFunc)(
	int argc, char **argv, GCancellable *cancellable, GError **error);

gboolean cmd_install(int argc, char **argv, GCancellable *cancellable, GError **error);
gboolean cmd_verify(int argc, char **argv, GCancellable *cancellable, GError **error);
gboolean cmd_status(int argc, char **argv, GCancellable *cancellable, GError **error);
gboolean cmd_usb(int argc, char **argv, GCancellable *cancellable, GError **error);
gboolean cmd_monitor(int argc, char **argv, GCancellable *cancellable, GError **error);
gboolean cmd_provision(int argc, char **argv, GCancellable *cancellable, GError **error);

/* Device options shared by install and verify. */
typedef struct {
	char *config;
	char *sysroot;
	char *os;
	char *keyring;
	char *compatible;
	gboolean allow_downgrade;
} OstickDeviceOptions;

/* Adds --config, --sysroot, --os, --keyring, --compatible, --allow-downgrade to @context. */
void ostick_cli_add_device_options(GOptionContext *context, OstickDeviceOptions *options);

/* The configuration with flags applied over it. (transfer full) */
OstickConfig *ostick_cli_load_config(const OstickDeviceOptions *options, GError **error);

/* Install options from the configuration (flags applied): sysroot, OS, compatible string,
 * downgrades, and @keyring (borrowed). (transfer full) */
OstickInstallOptions *ostick_cli_install_options(
	const OstickConfig *config, const OstickKeyring *keyring);

/* The bundle's descriptor from the command line: BUNDLE (a path, or - for stdin) or --fd
 * @fd_option (a duplicate; -1 when not given), one of them. Errors: usage, G_IO_ERROR. */
int ostick_cli_open_bundle_input(int argc, char **argv, int fd_option, GError **error);

/* The bundle at @path, or stdin for "-". (transfer full) */
OstickBundle *ostick_cli_open_bundle(const char *path, GError **error);

typedef enum {
	OSTICK_LOG_ERROR = 3,
	OSTICK_LOG_WARNING = 4,
	OSTICK_LOG_NOTICE = 5,
	OSTICK_LOG_INFO = 6,
} OstickLogPriority;

/* "ostick-apply: <message>" on stderr; with a syslog priority prefix when stderr is the journal
 * (systemd sets $JOURNAL_STREAM), so that the journal files it at the right level. */
void ostick_cli_log(OstickLogPriority priority, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

typedef enum {
	OSTICK_PROGRESS_AUTO,
	OSTICK_PROGRESS_TTY,
	OSTICK_PROGRESS_JSON,
	OSTICK_PROGRESS_NONE,
} OstickProgressMode;

typedef struct {
	OstickProgressMode mode;
	int fd; /* JSON lines go here (stdout by default) */
	gint64 last_draw_us;
	gboolean drawn;
} OstickCliProgress;

/* Parses "auto|tty|json|none". */
gboolean ostick_cli_progress_init(
	OstickCliProgress *progress, const char *mode, int fd, GError **error);
/* An OstickProgressFunc; @user_data is the OstickCliProgress. */
void ostick_cli_progress_report(const OstickProgress *event, gpointer user_data);
/* Ends a TTY bar line, if one is drawn. */
void ostick_cli_progress_finish(OstickCliProgress *progress);
/* In JSON mode, the final {"event":"result","outcome":@outcome,...} line. */
void ostick_cli_progress_result(OstickCliProgress *progress, const char *outcome,
	const OstickInstallResult *result, const GError *error);

/* Handles one stick as `usb` and `monitor` do: logs every step and a one-line outcome, reboots
 * afterwards if the policy says so: after an install, and (once per target) when the stick's
 * target is already the default deployment but the device booted another one. */
gboolean ostick_cli_handle_stick(const char *device, const OstickConfig *config,
	const OstickKeyring *keyring, OstickCliProgress *progress, GCancellable *cancellable,
	GError **error);

G_END_DECLS
