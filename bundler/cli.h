/* cli.h: what the bundler's commands share: usage errors, option parsing, progress on a TTY. */
#pragma once

#include "ostick-cli.h"
#include "ostick-progress.h"

#include <json-glib/json-glib.h>

#include <gio/gio.h>

G_BEGIN_DECLS

/* A command: parses its own options, does its work, prints its result. Errors go to main(),
 * which prints them and picks the exit code. */
typedef gboolean (*OstickCommandFunc)(
	int argc, char **argv, GCancellable *cancellable, GError **error);

gboolean cmd_create(int argc, char **argv, GCancellable *cancellable, GError **error);
gboolean cmd_inspect(int argc, char **argv, GCancellable *cancellable, GError **error);
gboolean cmd_verify(int argc, char **argv, GCancellable *cancellable, GError **error);
gboolean cmd_keygen(int argc, char **argv, GCancellable *cancellable, GError **error);

/* Prints @builder's root as pretty JSON on stdout. */
void ostick_cli_print_json(JsonBuilder *builder);

/* Progress on stderr when it is a terminal; nothing otherwise. */
void ostick_cli_progress(const OstickProgress *progress, gpointer user_data);
/* Ends a progress line (if one was drawn). */
void ostick_cli_progress_done(void);

/* A ticking "stage  12s" line for steps that report no progress of their own. */
typedef struct _OstickCliSpinner OstickCliSpinner;
OstickCliSpinner *ostick_cli_spinner_start(OstickStage stage);
void ostick_cli_spinner_stop(OstickCliSpinner *spinner);

G_END_DECLS
