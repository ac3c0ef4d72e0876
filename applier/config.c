/* config.c: device configuration loading. */
#include "config.h"

#include "ostick-cli.h"
#include "ostick-error.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>

#define GROUP_DEVICE "device"
#define GROUP_POLICY "policy"
#define MAX_REBOOT_DELAY 3600

static const char *const device_keys[] = { "compatible", "os", "keyring", "sysroot", NULL };
static const char *const policy_keys[] = { "allow-downgrade", "reboot", "reboot-delay",
	"result-file", NULL };

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
read_policy(GKeyFile *kf, OstickConfig *config, GError **error)
{
	g_autofree char *reboot = g_key_file_get_string(kf, GROUP_POLICY, "reboot", NULL);
	g_autofree char *delay = g_key_file_get_value(kf, GROUP_POLICY, "reboot-delay", NULL);
	guint64 seconds = 0;

	if (!take_boolean(kf, GROUP_POLICY, "allow-downgrade", &config->allow_downgrade, error) ||
			!take_boolean(kf, GROUP_POLICY, "result-file", &config->result_file, error))
		return FALSE;
	if (reboot != NULL && strcmp(reboot, "after-install") == 0)
		config->reboot = OSTICK_REBOOT_AFTER_INSTALL;
	else if (reboot != NULL && strcmp(reboot, "never") != 0)
		return ostick_throw_usage(error, "[policy] reboot must be never or after-install");
	if (delay != NULL) {
		if (!g_ascii_string_to_unsigned(delay, 10, 0, MAX_REBOOT_DELAY, &seconds, NULL))
			return ostick_throw_usage(error, "[policy] reboot-delay must be 0..%d",
					MAX_REBOOT_DELAY);
		config->reboot_delay = (guint)seconds;
	}
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
			g_propagate_prefixed_error(error, g_steal_pointer(&local_error), "config %s: ",
					path);
		return NULL;
	}
	if (!check_known_keys(kf, GROUP_DEVICE, device_keys, error) ||
			!check_known_keys(kf, GROUP_POLICY, policy_keys, error) ||
			!read_policy(kf, config, error)) {
		g_prefix_error(error, "config %s: ", path);
		return NULL;
	}
	take_string(kf, GROUP_DEVICE, "compatible", &config->compatible);
	take_string(kf, GROUP_DEVICE, "os", &config->os);
	take_string(kf, GROUP_DEVICE, "keyring", &config->keyring);
	take_string(kf, GROUP_DEVICE, "sysroot", &config->sysroot);
	return g_steal_pointer(&config);
}
