/* ostick-error.c: error domain and throw helpers. */
#include "ostick-error.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>

GQuark
ostick_error_quark(void)
{
	return g_quark_from_static_string("ostick-error-quark");
}

gboolean
ostick_throw(GError **error, OstickErrorCode code, const char *fmt, ...)
{
	va_list args;

	if (error == NULL)
		return FALSE;
	va_start(args, fmt);
	*error = g_error_new_valist(OSTICK_ERROR, code, fmt, args);
	va_end(args);
	return FALSE;
}

static gboolean
throw_errno_valist(GError **error, int errsv, const char *fmt, va_list args)
{
	g_autofree char *prefix = NULL;

	if (error == NULL)
		return FALSE;
	prefix = g_strdup_vprintf(fmt, args);
	*error = g_error_new(
		G_IO_ERROR, g_io_error_from_errno(errsv), "%s: %s", prefix, g_strerror(errsv));
	return FALSE;
}

gboolean
ostick_throw_errno(GError **error, const char *fmt, ...)
{
	int errsv = errno;
	va_list args;

	va_start(args, fmt);
	throw_errno_valist(error, errsv, fmt, args);
	va_end(args);
	errno = errsv;
	return FALSE;
}

gboolean
ostick_throw_errno_value(GError **error, int errsv, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	throw_errno_valist(error, errsv, fmt, args);
	va_end(args);
	return FALSE;
}

static OstickExitCode
exit_code_for_ostick_error(int code)
{
	switch ((OstickErrorCode)code) {
	case OSTICK_ERROR_FORMAT:
	case OSTICK_ERROR_SIGNATURE:
	case OSTICK_ERROR_CORRUPT:
		return OSTICK_EXIT_AUTH;
	case OSTICK_ERROR_VERSION:
	case OSTICK_ERROR_INCOMPATIBLE:
	case OSTICK_ERROR_BASE_MISSING:
	case OSTICK_ERROR_DOWNGRADE:
		return OSTICK_EXIT_NOT_FOR_DEVICE;
	case OSTICK_ERROR_NO_SPACE:
		return OSTICK_EXIT_NO_SPACE;
	case OSTICK_ERROR_BUSY:
		return OSTICK_EXIT_BUSY;
	case OSTICK_ERROR_KEY:
		return OSTICK_EXIT_KEY;
	}
	return OSTICK_EXIT_FAILURE;
}

static OstickExitCode
exit_code_for_io_error(int code)
{
	switch (code) {
	case G_IO_ERROR_NOT_FOUND:
		return OSTICK_EXIT_NOT_FOUND;
	case G_IO_ERROR_EXISTS:
		return OSTICK_EXIT_EXISTS;
	case G_IO_ERROR_NO_SPACE:
		return OSTICK_EXIT_NO_SPACE;
	case G_IO_ERROR_CANCELLED:
		return OSTICK_EXIT_CANCELLED;
	case G_IO_ERROR_BUSY:
		return OSTICK_EXIT_BUSY;
	case G_IO_ERROR_NOT_MOUNTED: /* provisioning a directory that is not its own filesystem */
		return OSTICK_EXIT_USAGE;
	default:
		return OSTICK_EXIT_FAILURE;
	}
}

OstickExitCode
ostick_error_to_exit_code(const GError *error)
{
	if (error == NULL)
		return OSTICK_EXIT_OK;
	if (error->domain == OSTICK_ERROR)
		return exit_code_for_ostick_error(error->code);
	if (error->domain == G_IO_ERROR)
		return exit_code_for_io_error(error->code);
	/* Key files outside the manifest (whose parser reports OSTICK_ERROR_FORMAT) are
	 * configuration: a syntax error there is a configuration error. */
	if (error->domain == G_OPTION_ERROR || error->domain == G_KEY_FILE_ERROR)
		return OSTICK_EXIT_USAGE;
	if (error->domain == G_FILE_ERROR && error->code == G_FILE_ERROR_NOENT)
		return OSTICK_EXIT_NOT_FOUND;
	if (error->domain == G_FILE_ERROR && error->code == G_FILE_ERROR_NOSPC)
		return OSTICK_EXIT_NO_SPACE;
	if (error->domain == G_FILE_ERROR && error->code == G_FILE_ERROR_EXIST)
		return OSTICK_EXIT_EXISTS;
	return OSTICK_EXIT_FAILURE;
}
