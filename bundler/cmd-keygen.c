/* cmd-keygen.c: ostick-bundle keygen — a signing key pair. */
#include "cli.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-hash.h"
#include "ostick-sign.h"

#include <stdio.h>
#include <string.h>

static char *opt_output;
static char *opt_type;

static GOptionEntry entries[] = {
	{"output", 'o', 0, G_OPTION_ARG_FILENAME, &opt_output,
		"Write NAME.key.pem (private, mode 0600) and NAME.pub.pem (public)", "NAME"},
	{"type", 0, 0, G_OPTION_ARG_STRING, &opt_type, "ed25519 (default) or ecdsa-p256", "TYPE"},
	{NULL}};

gboolean
cmd_keygen(int argc, char **argv, GCancellable *cancellable, GError **error)
{
	g_autoptr(GOptionContext) context = g_option_context_new("- generate a signing key pair");
	g_autofree char *private_path = NULL;
	g_autofree char *public_path = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	OstickSigAlgorithm algorithm = OSTICK_SIG_ALG_ED25519;
	guint8 id[OSTICK_KEY_ID_LEN];
	char hex[2 * OSTICK_KEY_ID_LEN + 1];

	g_option_context_add_main_entries(context, entries, NULL);
	if (!ostick_parse_options(context, &argc, &argv, 0, "", error))
		return FALSE;
	if (opt_output == NULL)
		return ostick_throw_usage(error, "missing --output");
	if (opt_type != NULL && strcmp(opt_type, "ecdsa-p256") == 0)
		algorithm = OSTICK_SIG_ALG_ECDSA_P256_SHA256;
	else if (opt_type != NULL && strcmp(opt_type, "ed25519") != 0)
		return ostick_throw_usage(error, "--type must be ed25519 or ecdsa-p256");
	private_path = g_strconcat(opt_output, ".key.pem", NULL);
	public_path = g_strconcat(opt_output, ".pub.pem", NULL);
	if (!ostick_keygen(algorithm, private_path, public_path, error))
		return FALSE;
	key = ostick_key_load_public(public_path, error);
	if (key == NULL || !ostick_key_get_id(key, id, error))
		return FALSE;
	ostick_hex_encode(id, sizeof id, hex);
	printf("private key: %s\npublic key:  %s\nkey id:      %s\n", private_path, public_path,
		hex);
	printf("Copy %s into the devices' keyring directory; keep %s secret.\n", public_path,
		private_path);
	return TRUE;
}
