/* stick-mount.h: mounting a stick read-only (nosuid, nodev, noexec) in a private directory, and
 * the brief read-write remount that writes the result file. */
#pragma once

#include "device.h"

#include <glib.h>

G_BEGIN_DECLS

typedef struct _OstickMount OstickMount;

/* Mounts @stick read-only below @parent_dir (created 0700 if missing) in a fresh directory.
 * The filesystem type is udev's, else the first of vfat, exfat, ext4, ext3, ext2, iso9660 the
 * kernel accepts. ext* are mounted with "noload" so that not even a journal replay writes to the
 * stick. Error: OSTICK_ERROR_INCOMPATIBLE (no supported filesystem), G_IO_ERROR. */
OstickMount *ostick_mount_stick(const OstickStick *stick, const char *parent_dir, GError **error);

/* Where it is mounted. (transfer none) */
const char *ostick_mount_get_path(const OstickMount *mount);
const char *ostick_mount_get_fs_type(const OstickMount *mount);

/* Remounts read-write, calls @write, remounts read-only. */
gboolean ostick_mount_write(OstickMount *mount,
	gboolean (*write)(const char *root, gpointer user_data, GError **error), gpointer user_data,
	GError **error);

/* Unmounts (lazily if the device is gone or busy) and removes the directory. Safe on NULL. */
void ostick_mount_free(OstickMount *mount);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickMount, ostick_mount_free)

G_END_DECLS
