/* device.h: block devices through libudev: is this a stick we may read, and watching for new
 * ones (the monitor loop for systems without systemd). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
	char *name; /* kernel name, e.g. sda1 */
	char *devnode; /* /dev/sda1 */
	char *bus; /* udev ID_BUS (usb, mmc, ...) or NULL when udev does not know */
	char *fs_type; /* udev ID_FS_TYPE, or NULL when udev does not know (then mount probes) */
	char *model; /* for messages: vendor/model, or NULL */
} OstickStick;

void ostick_stick_free(OstickStick *stick);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickStick, ostick_stick_free)

/* Looks @device (a /dev path or a kernel name) up with libudev and checks it may be read as a
 * stick: a block device, on one of @buses (udev ID_BUS; "any" accepts every bus), carrying a
 * filesystem when udev knows. Error: OSTICK_ERROR_INCOMPATIBLE (not a stick for us),
 * G_IO_ERROR_NOT_FOUND. (transfer full) */
OstickStick *ostick_stick_lookup(const char *device, const char *const *buses, GError **error);

/* Called for each block device that appears (and, at start, each one present). */
typedef void (*OstickStickFunc)(const char *devnode, gpointer user_data);

/* Calls @func for every present block device with a filesystem, then, unless @once, for every
 * one udev announces until @cancellable is cancelled. */
gboolean ostick_stick_monitor(OstickStickFunc func, gpointer user_data, gboolean once,
	GCancellable *cancellable, GError **error);

G_END_DECLS
