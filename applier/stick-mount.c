/* stick-mount.c: read-only stick mounts. */
#include "stick-mount.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOUNT_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

struct _OstickMount {
	char *path;
	char *fs_type;
	char *options;
	char *devnode;
	int was_readonly; /* the block device's read-only flag before us; -1 unknown */
};

/* The block device's own read-only flag: with it set, no filesystem driver can write to the
 * stick (ext4 records errors in its superblock even on a read-only mount). Best effort. */
static int
set_device_readonly(const char *devnode, int readonly)
{
	g_auto(OstickFd) fd = open(devnode, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int before = -1;

	if (fd < 0 || ioctl(fd, BLKROGET, &before) < 0)
		return -1;
	(void)ioctl(fd, BLKROSET, &readonly);
	return before;
}

/* Files 0600 and directories 0700, owned by root: nothing on the stick is for other users. */
static const struct {
	const char *type;
	const char *options;
} supported[] = {
	{"vfat", "uid=0,gid=0,fmask=0177,dmask=0077,utf8=1"},
	{"exfat", "uid=0,gid=0,fmask=0177,dmask=0077"},
	/* errors=continue: a crafted superblock saying errors=panic must not panic the device
	 * (the kernel acts on errors even on a read-only mount). */
	{"ext4", "noload,errors=continue"},
	{"ext3", "noload,errors=continue"},
	{"ext2", "errors=continue"},
	{"iso9660", NULL},
};

static int
find_supported(const char *type)
{
	for (guint i = 0; i < G_N_ELEMENTS(supported); i++) {
		if (strcmp(supported[i].type, type) == 0)
			return (int)i;
	}
	return -1;
}

static gboolean
try_mount(OstickMount *m, const char *devnode, guint index)
{
	if (mount(devnode, m->path, supported[index].type, MS_RDONLY | MOUNT_FLAGS,
		    supported[index].options) < 0)
		return FALSE;
	m->fs_type = g_strdup(supported[index].type);
	m->options = g_strdup(supported[index].options);
	return TRUE;
}

static gboolean
mount_any(OstickMount *m, const OstickStick *stick, GError **error)
{
	int known = stick->fs_type ? find_supported(stick->fs_type) : -1;

	if (stick->fs_type != NULL && known < 0)
		return ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE,
			"%s: filesystem %s is not supported", stick->devnode, stick->fs_type);
	/* udev's type first; then, as mount(8) does when it does not know, let the kernel recognise
	 * one of ours (no udevd, or a stale database). */
	if (known >= 0 && try_mount(m, stick->devnode, (guint)known))
		return TRUE;
	for (guint i = 0; i < G_N_ELEMENTS(supported); i++) {
		if ((int)i == known)
			continue;
		if (try_mount(m, stick->devnode, i))
			return TRUE;
		/* EINVAL: not this type; ENODEV: type not in this kernel. Others: give up. */
		if (errno != EINVAL && errno != ENODEV)
			return ostick_throw_errno(error, "mounting %s", stick->devnode);
	}
	return ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE,
		"%s: no filesystem this kernel can mount read-only (vfat, exfat, ext2/3/4, "
		"iso9660)",
		stick->devnode);
}

OstickMount *
ostick_mount_stick(const OstickStick *stick, const char *parent_dir, GError **error)
{
	g_autoptr(OstickMount) m = g_new0(OstickMount, 1);
	g_autofree char *template = g_strdup_printf("%s/%s.XXXXXX", parent_dir, stick->name);

	if (g_mkdir_with_parents(parent_dir, 0700) < 0) {
		ostick_throw_errno(error, "%s", parent_dir);
		return NULL;
	}
	if (g_mkdtemp_full(template, 0700) == NULL) {
		ostick_throw_errno(error, "creating a mount point in %s", parent_dir);
		return NULL;
	}
	m->path = g_steal_pointer(&template);
	m->devnode = g_strdup(stick->devnode);
	m->was_readonly = set_device_readonly(m->devnode, 1);
	if (!mount_any(m, stick, error))
		return NULL;
	return g_steal_pointer(&m);
}

const char *
ostick_mount_get_path(const OstickMount *m)
{
	return m->path;
}

const char *
ostick_mount_get_fs_type(const OstickMount *m)
{
	return m->fs_type;
}

static gboolean
remount(OstickMount *m, unsigned long rw_flag, GError **error)
{
	/* ext's "noload" cannot be combined with a read-write mount. */
	const char *options = g_str_has_prefix(m->fs_type, "ext") ? NULL : m->options;

	if (mount(NULL, m->path, NULL, MS_REMOUNT | MOUNT_FLAGS | rw_flag, options) < 0)
		return ostick_throw_errno(
			error, "remounting %s %s", m->path, rw_flag ? "read-only" : "read-write");
	return TRUE;
}

gboolean
ostick_mount_write(OstickMount *m, gboolean (*write)(const char *, gpointer, GError **),
	gpointer user_data, GError **error)
{
	gboolean ok;

	if (strcmp(m->fs_type, "iso9660") == 0)
		return ostick_throw(
			error, OSTICK_ERROR_INCOMPATIBLE, "the stick is read-only media");
	(void)set_device_readonly(m->devnode, 0);
	if (!remount(m, 0, error)) {
		(void)set_device_readonly(m->devnode, 1);
		return FALSE;
	}
	ok = write(m->path, user_data, error);
	{
		/* Remounting read-only flushes what was written before the stick may be pulled. */
		g_autoptr(GError) local_error = NULL;
		gboolean readonly = remount(m, MS_RDONLY, ok ? error : &local_error);

		(void)set_device_readonly(m->devnode, 1);
		if (!readonly)
			return FALSE;
	}
	return ok;
}

void
ostick_mount_free(OstickMount *m)
{
	if (m == NULL)
		return;
	if (m->fs_type != NULL && umount2(m->path, 0) < 0)
		(void)umount2(m->path, MNT_DETACH); /* pulled out or busy: detach */
	(void)rmdir(m->path);
	if (m->devnode != NULL && m->was_readonly >= 0)
		(void)set_device_readonly(m->devnode, m->was_readonly);
	g_free(m->devnode);
	g_free(m->path);
	g_free(m->fs_type);
	g_free(m->options);
	g_free(m);
}
