/* state.c: last install result. */
#include "state.h"

#include "ostick-error.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

static char *
state_path(OstickDevice *device)
{
	g_autofree char *sysroot = g_file_get_path(ostree_sysroot_get_path(device->sysroot));

	return g_build_filename(
		sysroot, "ostree/deploy", device->os, "var/lib/ostick/last-result", NULL);
}

static void
set_optional(GKeyFile *kf, const char *key, const char *value)
{
	if (value != NULL)
		g_key_file_set_string(kf, OSTICK_STATE_GROUP, key, value);
}

void
ostick_state_record(OstickDevice *device, const OstickInstallResult *result, const GError *error)
{
	g_autofree char *path = state_path(device);
	g_autofree char *dir = g_path_get_dirname(path);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree char *when = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");

	g_key_file_set_string(
		kf, OSTICK_STATE_GROUP, "outcome", ostick_outcome_name(result->outcome));
	g_key_file_set_integer(
		kf, OSTICK_STATE_GROUP, "exit-code", ostick_error_to_exit_code(error));
	g_key_file_set_string(kf, OSTICK_STATE_GROUP, "time", when);
	set_optional(kf, "message", error ? error->message : NULL);
	set_optional(kf, "from-version", result->from_version);
	set_optional(kf, "from-commit", result->from_commit);
	set_optional(kf, "to-version", result->to_version);
	set_optional(kf, "to-commit", result->to_commit);
	set_optional(kf, "ref", result->ref);
	if (result->reboot_pending)
		g_key_file_set_boolean(kf, OSTICK_STATE_GROUP, "reboot-pending", TRUE);
	if (g_mkdir_with_parents(dir, 0755) < 0)
		return;
	/* g_key_file_save_to_file writes a temporary file and renames it: never half a file. */
	(void)g_key_file_save_to_file(kf, path, NULL);
}

GKeyFile *
ostick_state_load(OstickDevice *device)
{
	g_autofree char *path = state_path(device);
	g_autoptr(GKeyFile) kf = g_key_file_new();

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL))
		return NULL;
	return g_steal_pointer(&kf);
}
