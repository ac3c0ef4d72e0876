/* ostick-error.h: the one error domain of ostick, and throw helpers.
 *
 * Errors carry only the codes a caller acts on. System calls report G_IO_ERROR with the
 * errno text; libostree and GLib errors pass through with context prefixed once per layer.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OSTICK_ERROR (ostick_error_quark())
GQuark ostick_error_quark(void);

typedef enum {
	/* Malformed container, manifest, signature block or superblock. */
	OSTICK_ERROR_FORMAT,
	/* A format version, required feature or part encoding this reader does not support. */
	OSTICK_ERROR_VERSION,
	/* Unsigned, signed by no trusted key, or a signature that does not verify. */
	OSTICK_ERROR_SIGNATURE,
	/* A payload member differs from what the signed manifest says (size or SHA-256). */
	OSTICK_ERROR_CORRUPT,
	/* The bundle's compatible string is not this device's. */
	OSTICK_ERROR_INCOMPATIBLE,
	/* A delta's base commit, or one of its objects, is not in the device's repo. */
	OSTICK_ERROR_BASE_MISSING,
	/* The target is older than what the device runs, and downgrades are not allowed. */
	OSTICK_ERROR_DOWNGRADE,
	/* Not enough free space for the new objects plus staging (checked before writing). */
	OSTICK_ERROR_NO_SPACE,
	/* Another ostick install holds the device-wide lock. */
	OSTICK_ERROR_BUSY,
	/* A key file that is not a usable key of a supported type. */
	OSTICK_ERROR_KEY,
} OstickErrorCode;

/* Sets @error to (OSTICK_ERROR, @code, printf-style message) and returns FALSE. */
gboolean ostick_throw(GError **error, OstickErrorCode code, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

/* Sets @error from the current errno (G_IO_ERROR, code from errno) with the message
 * "<fmt>: <strerror>" and returns FALSE. errno is preserved. */
gboolean ostick_throw_errno(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Like ostick_throw_errno() for an explicit errno value. */
gboolean ostick_throw_errno_value(GError **error, int errsv, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

/* Exit codes shared by both tools (README "Exit codes"). */
typedef enum {
	OSTICK_EXIT_OK = 0,
	OSTICK_EXIT_FAILURE = 1,
	OSTICK_EXIT_USAGE = 2,
	OSTICK_EXIT_NOT_FOR_DEVICE = 3, /* incompatible, base missing, downgrade, newer format */
	OSTICK_EXIT_AUTH = 4, /* signature, hash or format: not authentic or corrupt */
	OSTICK_EXIT_NO_SPACE = 5,
	OSTICK_EXIT_BUSY = 6,
	OSTICK_EXIT_NOT_FOUND = 7, /* repo, ref, commit, rootfs, bundle, keyring */
	OSTICK_EXIT_KEY = 8, /* a key file that is unreadable or of the wrong type */
	OSTICK_EXIT_EXISTS = 9, /* the output exists */
	OSTICK_EXIT_CANCELLED = 10,
} OstickExitCode;

/* The documented exit code for @error (which may come from GLib, GIO, libostree or ostick). */
OstickExitCode ostick_error_to_exit_code(const GError *error);

G_END_DECLS
