/* cmd-status.c: ostick-apply status — deployments, versions, and the last result. */
#include "cli.h"
#include "deploy.h"
#include "ostick-error.h"
#include "state.h"

#include <stdio.h>

static char *opt_config;
static char *opt_sysroot;
static char *opt_os;
static gboolean opt_json;

static GOptionEntry entries[] = {
	{"config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config, "Configuration file", "FILE"},
	{"sysroot", 0, 0, G_OPTION_ARG_FILENAME, &opt_sysroot, "OSTree sysroot", "DIR"},
	{"os", 0, 0, G_OPTION_ARG_STRING, &opt_os, "OS name / stateroot", "NAME"},
	{"json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "Print JSON", NULL}, {NULL}};

/* The deployment right after the booted one (or after the default one when nothing is booted)
 * is what a rollback boots. */
static int
rollback_position(GPtrArray *infos)
{
	for (guint i = 0; i < infos->len; i++) {
		const OstickDeploymentInfo *info = infos->pdata[i];

		if (info->booted)
			return i + 1 < infos->len ? (int)i + 1 : -1;
	}
	return infos->len > 1 ? 1 : -1;
}

static gboolean
is_pending(OstickDevice *device, const OstickDeploymentInfo *info)
{
	return info->is_default && device->booted != NULL && !info->booted;
}

static void
json_deployment(
	JsonBuilder *b, OstickDevice *device, const OstickDeploymentInfo *info, gboolean rollback)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "index");
	json_builder_add_int_value(b, info->index);
	json_builder_set_member_name(b, "checksum");
	json_builder_add_string_value(b, info->checksum);
	json_builder_set_member_name(b, "version");
	json_builder_add_string_value(b, info->version);
	json_builder_set_member_name(b, "timestamp");
	json_builder_add_int_value(b, (gint64)info->timestamp);
	json_builder_set_member_name(b, "refspec");
	json_builder_add_string_value(b, info->refspec);
	json_builder_set_member_name(b, "booted");
	json_builder_add_boolean_value(b, info->booted);
	json_builder_set_member_name(b, "default");
	json_builder_add_boolean_value(b, info->is_default);
	json_builder_set_member_name(b, "pending");
	json_builder_add_boolean_value(b, is_pending(device, info));
	json_builder_set_member_name(b, "rollback");
	json_builder_add_boolean_value(b, rollback);
	json_builder_set_member_name(b, "pinned");
	json_builder_add_boolean_value(b, info->pinned);
	json_builder_end_object(b);
}

static void
json_last_result(JsonBuilder *b, GKeyFile *last)
{
	g_auto(GStrv) keys =
		last ? g_key_file_get_keys(last, OSTICK_STATE_GROUP, NULL, NULL) : NULL;

	json_builder_set_member_name(b, "last_result");
	if (keys == NULL) {
		json_builder_add_null_value(b);
		return;
	}
	json_builder_begin_object(b);
	for (guint i = 0; keys[i] != NULL; i++) {
		g_autofree char *value =
			g_key_file_get_string(last, OSTICK_STATE_GROUP, keys[i], NULL);

		json_builder_set_member_name(b, keys[i]);
		json_builder_add_string_value(b, value);
	}
	json_builder_end_object(b);
}

static void
print_json(OstickDevice *device, GPtrArray *infos, GKeyFile *last)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autofree char *bootloader = ostick_device_get_bootloader(device);
	g_autofree char *text = NULL;
	int rollback = rollback_position(infos);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "os");
	json_builder_add_string_value(b, device->os);
	json_builder_set_member_name(b, "bootloader");
	json_builder_add_string_value(b, bootloader);
	json_builder_set_member_name(b, "deployments");
	json_builder_begin_array(b);
	for (guint i = 0; i < infos->len; i++)
		json_deployment(b, device, infos->pdata[i], (int)i == rollback);
	json_builder_end_array(b);
	json_last_result(b, last);
	json_builder_end_object(b);
	text = ostick_json_to_string(b, TRUE);
	printf("%s\n", text);
}

static void
print_human(OstickDevice *device, GPtrArray *infos, GKeyFile *last)
{
	g_autofree char *bootloader = ostick_device_get_bootloader(device);
	int rollback = rollback_position(infos);

	printf("OS %s, bootloader %s\n", device->os, bootloader);
	if (infos->len == 0)
		printf("  no deployments\n");
	for (guint i = 0; i < infos->len; i++) {
		const OstickDeploymentInfo *info = infos->pdata[i];
		g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc((gint64)info->timestamp);
		g_autofree char *date = when ? g_date_time_format(when, "%Y-%m-%d %H:%M") : NULL;

		printf("%c %-12s %.12s  %s %s%s%s%s%s\n", info->is_default ? '*' : ' ',
			info->version ? info->version : "-", info->checksum, date ? date : "",
			info->booted ? " booted" : "",
			is_pending(device, info) ? " pending (reboot to use)" : "",
			info->is_default && !is_pending(device, info) ? " default" : "",
			(int)i == rollback ? " rollback" : "", info->pinned ? " pinned" : "");
	}
	if (last != NULL) {
		g_autofree char *outcome =
			g_key_file_get_string(last, OSTICK_STATE_GROUP, "outcome", NULL);
		g_autofree char *to =
			g_key_file_get_string(last, OSTICK_STATE_GROUP, "to-version", NULL);
		g_autofree char *time =
			g_key_file_get_string(last, OSTICK_STATE_GROUP, "time", NULL);
		g_autofree char *msg =
			g_key_file_get_string(last, OSTICK_STATE_GROUP, "message", NULL);

		printf("Last result: %s%s%s at %s%s%s\n", outcome ? outcome : "?", to ? " " : "",
			to ? to : "", time ? time : "?", msg ? ": " : "", msg ? msg : "");
	}
}

gboolean
cmd_status(int argc, char **argv, GCancellable *cancellable, GError **error)
{
	g_autoptr(GOptionContext) context =
		g_option_context_new("- show deployments and the last result");
	g_autoptr(OstickConfig) config = NULL;
	g_autoptr(OstickDevice) device = NULL;
	g_autoptr(GPtrArray) infos = NULL;
	g_autoptr(GKeyFile) last = NULL;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!ostick_parse_options(context, &argc, &argv, 0, "", error) ||
		(config = ostick_config_load(opt_config ? opt_config : OSTICK_DEFAULT_CONFIG,
			 opt_config != NULL, error)) == NULL)
		return FALSE;
	device = ostick_device_open(opt_sysroot ? opt_sysroot : config->sysroot,
		opt_os ? opt_os : config->os, FALSE, cancellable, error);
	if (device == NULL)
		return FALSE;
	infos = ostick_device_list(device);
	last = ostick_state_load(device);
	if (opt_json)
		print_json(device, infos, last);
	else
		print_human(device, infos, last);
	return TRUE;
}
