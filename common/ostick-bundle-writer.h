/* ostick-bundle-writer.h: writes the bundle container (FORMAT.md §2), a POSIX tar, with
 * libarchive. The caller adds the members in the order the format prescribes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _OstickBundleWriter OstickBundleWriter;

/* Called after each chunk written from a file member; @done counts bytes of that member. */
typedef void (*OstickWriteProgressFunc)(guint64 done, gpointer user_data);

/* Starts a tar stream on @fd (borrowed; not closed). Members get @mtime (Unix seconds), owner
 * 0:0, mode 0644, so that the same inputs give the same bytes. (transfer full) */
OstickBundleWriter *ostick_bundle_writer_new(int fd, gint64 mtime, GError **error);
void ostick_bundle_writer_free(OstickBundleWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickBundleWriter, ostick_bundle_writer_free)

/* Adds a member holding @data. */
gboolean ostick_bundle_writer_add_bytes(
	OstickBundleWriter *writer, const char *name, GBytes *data, GError **error);

/* Adds a member of @size bytes read from @fd (from its current offset). Fails if the file
 * does not hold exactly @size bytes. */
gboolean ostick_bundle_writer_add_fd(OstickBundleWriter *writer, const char *name, int fd,
	guint64 size, OstickWriteProgressFunc progress, gpointer user_data, GError **error);

/* Writes the end-of-archive marker. The descriptor then holds a complete bundle. */
gboolean ostick_bundle_writer_close(OstickBundleWriter *writer, GError **error);

G_END_DECLS
