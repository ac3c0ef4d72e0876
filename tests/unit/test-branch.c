/* test-branch.c: the x86 branch conversion of `zstd-x86` (FORMAT.md §5.8). */
#include "ostick-branch.h"
#include "testlib.h"

#include <string.h>

/* The conversion of @in in one call, in @encode's direction. (transfer full) */
static GBytes *
convert_whole(const guint8 *in, gsize len, gboolean encode)
{
	OstickBranchConverter conv;
	guint8 *out = g_memdup2(in, len);

	ostick_branch_converter_init(&conv, encode);
	g_assert_cmpuint(ostick_branch_convert(&conv, out, len, TRUE), ==, len);
	g_assert_cmpuint(conv.pos, ==, len);
	return g_bytes_new_take(out, len);
}

static gboolean
append(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	g_byte_array_append(user_data, data, (guint)len);
	return TRUE;
}

/* The same through the stream, fed in chunks of sizes that keep changing. (transfer full) */
static GBytes *
convert_chunked(const guint8 *in, gsize len, gboolean encode, guint seed)
{
	GByteArray *out = g_byte_array_new();
	g_autoptr(OstickBranchStream) stream = ostick_branch_stream_new(encode, append, out);
	g_autoptr(GError) error = NULL;
	gsize step = seed % 7 + 1;

	for (gsize off = 0; off < len; off += step, step = (step * 5 + seed) % 70001 + 1)
		g_assert_true(
			ostick_branch_stream_write(stream, in + off, MIN(step, len - off), &error));
	g_assert_true(ostick_branch_stream_finish(stream, &error));
	g_assert_no_error(error);
	return g_byte_array_free_to_bytes(out);
}

/* Code-like bytes: many E8/E9 with near displacements, some far, some back to back. */
static GBytes *
make_code(gsize len, guint seed)
{
	guint8 *data = g_malloc(len);
	guint32 x = seed * 2654435761u + 7;

	for (gsize i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		switch ((x >> 16) % 16) {
		case 0:
			data[i] = 0xE8;
			break;
		case 1:
			data[i] = 0xE9;
			break;
		case 2:
		case 3:
			data[i] = 0x00;
			break;
		case 4:
			data[i] = 0xFF;
			break;
		default:
			data[i] = (guint8)(x >> 24);
		}
	}
	return g_bytes_new_take(data, len);
}

static void
assert_bytes(GBytes *bytes, const guint8 *expected, gsize len)
{
	g_assert_cmpmem(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), expected, len);
}

/* Known answers, worked out by hand from FORMAT.md §5.8. */
static void
test_known_answers(void)
{
	/* A call at 0 to displacement 0x10: the next instruction is at 5, so 0x15. */
	static const guint8 call[] = {0xE8, 0x10, 0x00, 0x00, 0x00};
	static const guint8 call_enc[] = {0xE8, 0x15, 0x00, 0x00, 0x00};
	/* A jump back by 8 from offset 3: -8 + 8 = 0. */
	static const guint8 back[] = {0x90, 0x90, 0x90, 0xE9, 0xF8, 0xFF, 0xFF, 0xFF};
	static const guint8 back_enc[] = {0x90, 0x90, 0x90, 0xE9, 0x00, 0x00, 0x00, 0x00};
	/* Far displacement (top byte 0x12): left alone, and it blocks the E8 one byte on. */
	static const guint8 far[] = {0xE8, 0xE8, 0x00, 0x00, 0x12, 0x00, 0x00};
	/* 25 bits kept, sign-extended: 0x00FFFFFB + 5 = 0x01000000 becomes 0xFF000000. */
	static const guint8 wrap[] = {0xE8, 0xFB, 0xFF, 0xFF, 0x00};
	static const guint8 wrap_enc[] = {0xE8, 0x00, 0x00, 0x00, 0xFF};
	/* Fewer than 5 bytes from an opcode to the end: never converted. */
	static const guint8 tail[] = {0x00, 0xE8, 0x00, 0x00, 0x00};
	g_autoptr(GBytes) a = convert_whole(call, sizeof call, TRUE);
	g_autoptr(GBytes) b = convert_whole(back, sizeof back, TRUE);
	g_autoptr(GBytes) c = convert_whole(far, sizeof far, TRUE);
	g_autoptr(GBytes) d = convert_whole(wrap, sizeof wrap, TRUE);
	g_autoptr(GBytes) e = convert_whole(tail, sizeof tail - 1, TRUE);
	g_autoptr(GBytes) a_back = convert_whole(call_enc, sizeof call_enc, FALSE);
	g_autoptr(GBytes) d_back = convert_whole(wrap_enc, sizeof wrap_enc, FALSE);

	assert_bytes(a, call_enc, sizeof call_enc);
	assert_bytes(b, back_enc, sizeof back_enc);
	assert_bytes(c, far, sizeof far);
	assert_bytes(d, wrap_enc, sizeof wrap_enc);
	assert_bytes(e, tail, sizeof tail - 1);
	assert_bytes(a_back, call, sizeof call);
	assert_bytes(d_back, wrap, sizeof wrap);
}

/* The blocking rule is what makes the conversion reversible: without it, converting the E8 at
 * 1 would turn the test byte of the E8 at 0 into 0x00, and the reader would convert that one. */
static void
test_blocked_opcode_stays(void)
{
	static const guint8 in[] = {0xE8, 0xE8, 0x10, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00};
	g_autoptr(GBytes) enc = convert_whole(in, sizeof in, TRUE);
	g_autoptr(GBytes) back = convert_whole(g_bytes_get_data(enc, NULL), sizeof in, FALSE);

	assert_bytes(enc, in, sizeof in);
	assert_bytes(back, in, sizeof in);
}

static void
test_roundtrip(void)
{
	const gsize sizes[] = {0, 1, 4, 5, 6, 9, 100, 4096, 65537, 1000003};

	for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autoptr(GBytes) code = make_code(sizes[i], (guint)i);
		const guint8 *p = g_bytes_get_data(code, NULL);
		g_autoptr(GBytes) enc = convert_whole(p, sizes[i], TRUE);
		g_autoptr(GBytes) dec = convert_whole(g_bytes_get_data(enc, NULL), sizes[i], FALSE);

		g_assert_true(g_bytes_equal(dec, code));
		if (sizes[i] >= 100)
			g_assert_false(g_bytes_equal(enc, code)); /* it did convert something */
		for (guint seed = 1; seed < 4; seed++) {
			g_autoptr(GBytes) enc_chunked = convert_chunked(p, sizes[i], TRUE, seed);
			g_autoptr(GBytes) dec_chunked = convert_chunked(
				g_bytes_get_data(enc, NULL), sizes[i], FALSE, seed + 10);

			g_assert_true(g_bytes_equal(enc_chunked, enc));
			g_assert_true(g_bytes_equal(dec_chunked, code));
		}
	}
}

/* Bytes that are undecided at the end of a buffer stay so, not converted too early, and are
 * decided once they come again with what follows. */
static void
test_undecided_tail(void)
{
	guint8 buf[] = {0x90, 0xE8, 0x01, 0x00, 0x00};
	guint8 next[] = {0xE8, 0x01, 0x00, 0x00, 0x00, 0x90};
	static const guint8 next_enc[] = {0xE8, 0x07, 0x00, 0x00, 0x00, 0x90};
	OstickBranchConverter conv;

	ostick_branch_converter_init(&conv, TRUE);
	g_assert_cmpuint(ostick_branch_convert(&conv, buf, 4, FALSE), ==, 0);
	g_assert_cmpuint(ostick_branch_convert(&conv, buf, sizeof buf, FALSE), ==, 1);
	g_assert_cmpuint(conv.pos, ==, 1);
	g_assert_cmpuint(buf[2], ==, 0x01);
	/* The call at offset 1, decided now: 1 + (1 + 5) = 7. The last byte stays undecided. */
	g_assert_cmpuint(ostick_branch_convert(&conv, next, sizeof next, FALSE), ==, 5);
	g_assert_cmpmem(next, sizeof next, next_enc, sizeof next_enc);
	g_assert_cmpuint(ostick_branch_convert(&conv, next + 5, 1, TRUE), ==, 1);
	g_assert_cmpuint(conv.pos, ==, 7);
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	g_test_add_func("/branch/known-answers", test_known_answers);
	g_test_add_func("/branch/blocked-opcode-stays", test_blocked_opcode_stays);
	g_test_add_func("/branch/roundtrip", test_roundtrip);
	g_test_add_func("/branch/undecided-tail", test_undecided_tail);
	return g_test_run();
}
