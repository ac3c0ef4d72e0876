/* config.h: the device configuration, /etc/ostick/ostick.conf (GKeyFile; samples/ostick.conf). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OSTICK_DEFAULT_CONFIG OSTICK_SYSCONFDIR "/ostick/ostick.conf"
#define OSTICK_DEFAULT_KEYRING OSTICK_SYSCONFDIR "/ostick/keyring.d"

typedef enum {
	OSTICK_REBOOT_NEVER,
	OSTICK_REBOOT_AFTER_INSTALL,
} OstickRebootPolicy;

typedef struct {
	char *compatible; /* this device's compatible string; NULL: not configured */
	char *os; /* stateroot; NULL: the booted one */
	char *keyring; /* trusted public keys (directory or file) */
	char *sysroot; /* "/" on a device */
	gboolean allow_downgrade;
	OstickRebootPolicy reboot;
	guint reboot_delay; /* seconds between a successful install and the reboot */
	char **reboot_command; /* argv run to reboot (default: systemctl reboot, or reboot) */
	gboolean result_file; /* USB: leave ostick-result-<machine-id>.txt on the stick */
	char **usb_buses; /* ID_BUS values accepted for sticks: usb, mmc ... or any */
	guint lock_wait; /* USB: seconds to wait for another install to finish */
} OstickConfig;

/* Loads @path. A missing file is fine (defaults) unless @must_exist. Unknown keys in ostick's
 * groups are refused (a typo must not silently weaken policy). Errors: G_IO_ERROR,
 * G_KEY_FILE_ERROR, G_OPTION_ERROR (bad value). (transfer full) */
OstickConfig *ostick_config_load(const char *path, gboolean must_exist, GError **error);
void ostick_config_free(OstickConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickConfig, ostick_config_free)

const char *ostick_reboot_policy_name(OstickRebootPolicy policy);

G_END_DECLS
