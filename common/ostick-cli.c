/* ostick-cli.c: front-end helpers that neither print nor exit. */
#include "ostick-cli.h"

#include "ostick-error.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

gboolean
ostick_throw_usage(GError **error, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	if (error != NULL)
		*error = g_error_new_valist(G_OPTION_ERROR, G_OPTION_ERROR_FAILED, fmt, args);
	va_end(args);
	return FALSE;
}

gboolean
ostick_parse_options(GOptionContext *context, int *argc, char ***argv, guint n_args,
	const char *args_name, GError **error)
{
	if (!g_option_context_parse(context, argc, argv, error))
		return FALSE;
	if ((guint)*argc - 1 < n_args)
		return ostick_throw_usage(error, "missing %s", args_name);
	if ((guint)*argc - 1 > n_args)
		return ostick_throw_usage(error, "unexpected argument '%s'", (*argv)[n_args + 1]);
	return TRUE;
}

int
ostick_open_input(const char *path, GError **error)
{
	int fd;

	if (strcmp(path, "-") == 0)
		fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	else
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		ostick_throw_errno(error, "%s", path);
	return fd;
}

char *
ostick_json_to_string(JsonBuilder *builder, gboolean pretty)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(builder);

	json_generator_set_root(generator, root);
	json_generator_set_pretty(generator, pretty);
	return json_generator_to_data(generator, NULL);
}
