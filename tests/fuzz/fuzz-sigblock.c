/* fuzz-sigblock.c: the signature block parser, then verification against a one-key keyring
 * (every parsed record goes through the acceptance rule). */
#include "fuzz-common.h"
#include "ostick-sigblock.h"

static OstickKeyring *keyring;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *src = g_getenv("OSTICK_SRCDIR");
	g_autofree char *path =
		g_build_filename(src ? src : ".", "tests/data/keys/test-ed25519.pub.pem", NULL);

	fuzz_init();
	keyring = ostick_keyring_load(path, NULL);
	g_assert_nonnull(keyring);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GArray) sigs = NULL;
	static const guint8 message[] = "[bundle]\nformat=1\n";

	if (!ostick_sigblock_parse(data, size, &sigs, &error))
		return 0;
	/* A forged signature never verifies; the point is that nothing crashes on the way. */
	g_assert_false(ostick_keyring_verify(keyring, &g_array_index(sigs, OstickSignature, 0),
		sigs->len, message, sizeof message - 1, NULL, NULL));
	return 0;
}
