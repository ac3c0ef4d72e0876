/* ostick-tar-headers.h: the raw tar headers of a member, as the bundle reader saw them go by.
 *
 * libarchive turns type flags it does not know, and a hard link with an empty link name, into
 * regular files, and a sparse member whose map covers the whole file into a plain one. FORMAT.md
 * §2.3 refuses them all; the only way to tell is the header bytes themselves. The reader keeps
 * the last bytes of the stream in a window and checks a member's header chain there. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The most of the stream kept: room for a member's extension headers (pax, GNU long names). */
#define OSTICK_TAR_WINDOW (2 * 1024 * 1024)

typedef struct _OstickTarWindow OstickTarWindow;

OstickTarWindow *ostick_tar_window_new(void);
void ostick_tar_window_free(OstickTarWindow *window);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickTarWindow, ostick_tar_window_free)

/* Records the next @len bytes of the stream. */
void ostick_tar_window_add(OstickTarWindow *window, const guint8 *data, gsize len);

/* Checks the header chain that starts at stream offset @header_offset (libarchive's
 * archive_read_header_position()) for member @name: extension headers (pax x and g, GNU L and
 * K) without GNU.sparse records, then a ustar header of type 0, NUL or 7. Errors:
 * OSTICK_ERROR_FORMAT "member '<name>' is not a regular file (tar type ...)", "... is sparse",
 * or "... extended headers ..." when the chain is malformed or does not fit the window. */
gboolean ostick_tar_window_check_member(
	OstickTarWindow *window, guint64 header_offset, const char *name, GError **error);

G_END_DECLS
