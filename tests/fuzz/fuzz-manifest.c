/* fuzz-manifest.c: the manifest parser on arbitrary text (it only ever sees signed text, but it
 * must not crash on anything). Also checks that whatever parses serializes and parses back the
 * same. */
#include "fuzz-common.h"
#include "ostick-manifest.h"

#include <string.h>

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OstickManifest) manifest = ostick_manifest_parse(data, size, &error);
	g_autoptr(GBytes) text = NULL;
	g_autoptr(OstickManifest) again = NULL;

	if (manifest == NULL)
		return 0;
	text = ostick_manifest_serialize(manifest, &error);
	g_assert_no_error(error);
	again = ostick_manifest_parse(g_bytes_get_data(text, NULL), g_bytes_get_size(text), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(again->target, ==, manifest->target);
	g_assert_cmpuint(again->n_parts, ==, manifest->n_parts);
	return 0;
}
