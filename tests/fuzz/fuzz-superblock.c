/* fuzz-superblock.c: the static-delta superblock parser, and the one-part layout of whatever
 * parses (which must be a normal-form GVariant again). */
#include "fuzz-common.h"
#include "ostick-superblock.h"

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
	g_autoptr(GBytes) bytes = g_bytes_new(data, size);
	g_autoptr(OstickSuperblock) sb = ostick_superblock_parse(bytes, &error);
	g_autoptr(GBytes) prefix = NULL, suffix = NULL;
	g_autoptr(GByteArray) whole = NULL;
	g_autoptr(GVariant) v = NULL;
	static const guint8 payload[] = {'x', 1, 2, 3};

	if (sb == NULL)
		return 0;
	ostick_superblock_layout_single_part(
		sb, ostick_superblock_get_n_parts(sb) - 1, sizeof payload, &prefix, &suffix);
	whole = g_byte_array_new();
	g_byte_array_append(whole, g_bytes_get_data(prefix, NULL), (guint)g_bytes_get_size(prefix));
	g_byte_array_append(whole, payload, sizeof payload);
	g_byte_array_append(whole, g_bytes_get_data(suffix, NULL), (guint)g_bytes_get_size(suffix));
	v = g_variant_ref_sink(
		g_variant_new_from_data(G_VARIANT_TYPE(OSTICK_SUPERBLOCK_TYPE_STRING), whole->data,
			whole->len, FALSE, NULL, NULL));
	g_assert_true(g_variant_is_normal_form(v));
	return 0;
}
