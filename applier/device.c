/* device.c: libudev lookups and the udev monitor loop. */
#include "device.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define POLL_MS 500

void
ostick_stick_free(OstickStick *stick)
{
	if (stick == NULL)
		return;
	g_free(stick->name);
	g_free(stick->devnode);
	g_free(stick->bus);
	g_free(stick->fs_type);
	g_free(stick->model);
	g_free(stick);
}

static struct udev_device *
find_device(struct udev *udev, const char *device, GError **error)
{
	struct stat st;

	/* A kernel name (sda1), as systemd's %I gives it, or a device node. */
	if (strchr(device, '/') == NULL) {
		struct udev_device *d =
			udev_device_new_from_subsystem_sysname(udev, "block", device);

		if (d == NULL)
			ostick_throw_errno_value(error, ENOENT, "block device %s", device);
		return d;
	}
	if (stat(device, &st) < 0) {
		ostick_throw_errno(error, "%s", device);
		return NULL;
	}
	if (!S_ISBLK(st.st_mode)) {
		ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE, "%s is not a block device", device);
		return NULL;
	}
	return udev_device_new_from_devnum(udev, 'b', st.st_rdev);
}

static gboolean
bus_allowed(const char *bus, const char *const *buses)
{
	if (g_strv_contains(buses, "any"))
		return TRUE;
	return bus != NULL && g_strv_contains(buses, bus);
}

static char *
dup_property(struct udev_device *d, const char *key)
{
	const char *value = udev_device_get_property_value(d, key);

	return value != NULL && value[0] != '\0' ? g_strdup(value) : NULL;
}

OstickStick *
ostick_stick_lookup(const char *device, const char *const *buses, GError **error)
{
	g_autoptr(OstickUdev) udev = udev_new();
	g_autoptr(OstickUdevDevice) d = NULL;
	g_autoptr(OstickStick) stick = g_new0(OstickStick, 1);
	const char *usage;

	if (udev == NULL) {
		ostick_throw_errno(error, "libudev");
		return NULL;
	}
	d = find_device(udev, device, error);
	if (d == NULL)
		return NULL;
	stick->name = g_strdup(udev_device_get_sysname(d));
	stick->devnode = g_strdup(udev_device_get_devnode(d));
	stick->bus = dup_property(d, "ID_BUS");
	stick->fs_type = dup_property(d, "ID_FS_TYPE");
	stick->model = dup_property(d, "ID_MODEL");
	usage = udev_device_get_property_value(d, "ID_FS_USAGE");
	if (!bus_allowed(stick->bus, buses)) {
		ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE,
			"%s is on bus '%s', not one of the configured [usb] buses", device,
			stick->bus ? stick->bus : "(unknown)");
		return NULL;
	}
	/* Without udev's database (no udevd), usage is unknown: mounting will tell. */
	if (usage != NULL && strcmp(usage, "filesystem") != 0) {
		ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE, "%s holds no filesystem (%s)",
			device, usage);
		return NULL;
	}
	return g_steal_pointer(&stick);
}

static void
enumerate_present(struct udev *udev, OstickStickFunc func, gpointer user_data)
{
	g_autoptr(OstickUdevEnumerate) e = udev_enumerate_new(udev);
	struct udev_list_entry *entry;

	udev_enumerate_add_match_subsystem(e, "block");
	udev_enumerate_add_match_property(e, "ID_FS_USAGE", "filesystem");
	udev_enumerate_scan_devices(e);
	udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e))
	{
		g_autoptr(OstickUdevDevice) d =
			udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));

		if (d != NULL && udev_device_get_devnode(d) != NULL)
			func(udev_device_get_devnode(d), user_data);
	}
}

static void
handle_event(struct udev_monitor *monitor, OstickStickFunc func, gpointer user_data)
{
	g_autoptr(OstickUdevDevice) d = udev_monitor_receive_device(monitor);
	const char *action, *usage;

	if (d == NULL)
		return;
	action = udev_device_get_action(d);
	usage = udev_device_get_property_value(d, "ID_FS_USAGE");
	if (g_strcmp0(action, "add") == 0 && g_strcmp0(usage, "filesystem") == 0 &&
		udev_device_get_devnode(d) != NULL)
		func(udev_device_get_devnode(d), user_data);
}

gboolean
ostick_stick_monitor(OstickStickFunc func, gpointer user_data, gboolean once,
	GCancellable *cancellable, GError **error)
{
	g_autoptr(OstickUdev) udev = udev_new();
	g_autoptr(OstickUdevMonitor) monitor = NULL;

	if (udev == NULL)
		return ostick_throw_errno(error, "libudev");
	/* Listen before enumerating, so that nothing plugged in between is missed. */
	if (!once) {
		/* "udev": events after udevd ran its rules (blkid's ID_FS_* are set by then). */
		monitor = udev_monitor_new_from_netlink(udev, "udev");
		if (monitor == NULL ||
			udev_monitor_filter_add_match_subsystem_devtype(monitor, "block", NULL) <
				0 ||
			udev_monitor_enable_receiving(monitor) < 0)
			return ostick_throw_errno(error, "udev monitor");
	}
	enumerate_present(udev, func, user_data);
	while (!once && !g_cancellable_is_cancelled(cancellable)) {
		struct pollfd pfd = {udev_monitor_get_fd(monitor), POLLIN, 0};
		int r = poll(&pfd, 1, POLL_MS);

		if (r < 0 && errno != EINTR)
			return ostick_throw_errno(error, "poll");
		if (r > 0)
			handle_event(monitor, func, user_data);
	}
	return TRUE;
}
