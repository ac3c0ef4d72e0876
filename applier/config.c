/* config.c: device configuration loading. */
#include "config.h"

#include "ostick-cli.h"
#include "ostick-error.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>

#define GROUP_DEVICE "device"
#define GROUP_POLICY "policy"
#define GROUP_USB "usb"
#define MAX_LOCK_WAIT (24 * 3600)
#define MAX_REBOOT_DELAY 3600

static const char *const device_keys[] = {"compatible", "os", "keyring", "sysroot", NULL};
static const char *const policy_keys[] = {
	"allow-downgrade", "reboot", "reboot-delay", "reboot-command", NULL};
static const char *const usb_keys[] = {"buses", "result-file", "lock-wait", NULL};

const char *
ostick_reboot_policy_name(OstickRebootPolicy policy)
{
	return policy == OSTICK_REBOOT_AFTER_INSTALL ? "after-install" : "never";
}

void
ostick_config_free(OstickConfig *config)
{
	if (config == NULL)
		return;
	g_free(config->compatible);
	g_free(config->os);
	g_free(config->keyring);
	g_free(config->sysroot);
	g_strfreev(config->reboot_command);
	g_strfreev(config->usb_buses);
	g_free(config);
}

static OstickConfig *
config_defaults(void)
{
	OstickConfig *config = g_new0(OstickConfig, 1);

	config->keyring = g_strdup(OSTICK_DEFAULT_KEYRING);
	config->sysroot = g_strdup("/");
	config->reboot = OSTICK_REBOOT_NEVER;
	config->reboot_delay = 10;
	config->usb_buses = g_strsplit("usb", ",", -1);
	config->lock_wait = 600;
	return config;
}

static gboolean
check_known_keys(GKeyFile *kf, const char *group, const char *const *known, GError **error)
{
	g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);

	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		if (!g_strv_contains(known, keys[i]))
			return ostick_throw_usage(error, "unknown key [%s] %s", group, keys[i]);
	}
	return TRUE;
}

/* Replaces *@field with the key's value when present. */
static void
take_string(GKeyFile *kf, const char *group, const char *key, char **field)
{
	g_autofree char *value = g_key_file_get_string(kf, group, key, NULL);

	if (value != NULL && value[0] != '\0') {
		g_free(*field);
		*field = g_steal_pointer(&value);
	}
}

static gboolean
take_boolean(GKeyFile *kf, const char *group, const char *key, gboolean *field, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	gboolean value;

	if (!g_key_file_has_key(kf, group, key, NULL))
		return TRUE;
	value = g_key_file_get_boolean(kf, group, key, &local_error);
	if (local_error != NULL)
		return ostick_throw_usage(error, "[%s] %s must be true or false", group, key);
	*field = value;
	return TRUE;
}

static gboolean
take_seconds(
	GKeyFile *kf, const char *group, const char *key, guint max, guint *field, GError **error)
{
	g_autofree char *value = g_key_file_get_value(kf, group, key, NULL);
	guint64 seconds = 0;

	if (value == NULL)
		return TRUE;
	if (!g_ascii_string_to_unsigned(value, 10, 0, max, &seconds, NULL))
		return ostick_throw_usage(error, "[%s] %s must be 0..%u seconds", group, key, max);
	*field = (guint)seconds;
	return TRUE;
}

static gboolean
take_argv(GKeyFile *kf, const char *group, const char *key, char ***field, GError **error)
{
	g_autofree char *value = g_key_file_get_string(kf, group, key, NULL);
	g_auto(GStrv) argv = NULL;

	if (value == NULL)
		return TRUE;
	if (!g_shell_parse_argv(value, NULL, &argv, NULL))
		return ostick_throw_usage(error, "[%s] %s is not a command line", group, key);
	g_strfreev(*field);
	*field = g_steal_pointer(&argv);
	return TRUE;
}

static gboolean
read_usb(GKeyFile *kf, OstickConfig *config, GError **error)
{
	g_auto(GStrv) buses = g_key_file_get_string_list(kf, GROUP_USB, "buses", NULL, NULL);

	if (buses != NULL) {
		if (buses[0] == NULL)
			return ostick_throw_usage(error, "[usb] buses is empty");
		g_strfreev(config->usb_buses);
		config->usb_buses = g_steal_pointer(&buses);
	}
	return take_boolean(kf, GROUP_USB, "result-file", &config->result_file, error) &&
	       take_seconds(kf, GROUP_USB, "lock-wait", MAX_LOCK_WAIT, &config->lock_wait, error);
}

static gboolean
read_policy(GKeyFile *kf, OstickConfig *config, GError **error)
{
	g_autofree char *reboot = g_key_file_get_string(kf, GROUP_POLICY, "reboot", NULL);

	if (!take_boolean(kf, GROUP_POLICY, "allow-downgrade", &config->allow_downgrade, error) ||
		!take_seconds(kf, GROUP_POLICY, "reboot-delay", MAX_REBOOT_DELAY,
			&config->reboot_delay, error) ||
		!take_argv(kf, GROUP_POLICY, "reboot-command", &config->reboot_command, error))
		return FALSE;
	if (reboot != NULL && strcmp(reboot, "after-install") == 0)
		config->reboot = OSTICK_REBOOT_AFTER_INSTALL;
	else if (reboot != NULL && strcmp(reboot, "never") != 0)
		return ostick_throw_usage(error, "[policy] reboot must be never or after-install");
	return TRUE;
}

OstickConfig *
ostick_config_load(const char *path, gboolean must_exist, GError **error)
{
	g_autoptr(OstickConfig) config = config_defaults();
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local_error = NULL;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local_error)) {
		if (g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT) && !must_exist)
			return g_steal_pointer(&config);
		if (g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			ostick_throw_errno_value(error, ENOENT, "config %s", path);
		else
			g_propagate_prefixed_error(
				error, g_steal_pointer(&local_error), "config %s: ", path);
		return NULL;
	}
	if (!check_known_keys(kf, GROUP_DEVICE, device_keys, error) ||
		!check_known_keys(kf, GROUP_POLICY, policy_keys, error) ||
		!check_known_keys(kf, GROUP_USB, usb_keys, error) ||
		!read_policy(kf, config, error) || !read_usb(kf, config, error)) {
		g_prefix_error(error, "config %s: ", path);
		return NULL;
	}
	take_string(kf, GROUP_DEVICE, "compatible", &config->compatible);
	take_string(kf, GROUP_DEVICE, "os", &config->os);
	take_string(kf, GROUP_DEVICE, "keyring", &config->keyring);
	take_string(kf, GROUP_DEVICE, "sysroot", &config->sysroot);
	return g_steal_pointer(&config);
}
