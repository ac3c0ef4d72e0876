/* ostick-cli.h: pieces both command-line tools need that neither print nor exit: usage errors,
 * option parsing with a fixed number of arguments, opening the bundle input, JSON text. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Sets a usage error (G_OPTION_ERROR, exit code 2) and returns FALSE. */
gboolean ostick_throw_usage(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Parses options; exactly @n_args positional arguments must remain (after the command name,
 * which is argv[0]). */
gboolean ostick_parse_options(GOptionContext *context, int *argc, char ***argv, guint n_args,
	const char *args_name, GError **error);

/* Opens a bundle for one sequential read: a path, "-" for standard input. Returns a new
 * descriptor, or -1 with @error set (G_IO_ERROR_NOT_FOUND for a missing file). */
int ostick_open_input(const char *path, GError **error);

/* @builder's root as JSON text. (transfer full) */
char *ostick_json_to_string(JsonBuilder *builder, gboolean pretty);

G_END_DECLS
