/* test-zstd.c: the zstd part encoding's writer and bounded decoder. */
#include "ostick-branch.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "ostick-format.h"
#include "ostick-zstd.h"
#include "testlib.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

/* Deterministic content: text-like (compressible) runs mixed with noise. */
static GBytes *
make_payload(gsize len, guint seed)
{
	guint8 *data = g_malloc(len);
	guint32 x = seed * 2654435761u + 1;

	for (gsize i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (i / 4096) % 2 ? (guint8)(x >> 24) : (guint8)("ostick "[i % 7]);
	}
	return g_bytes_new_take(data, len);
}

static int
empty_file(void)
{
	g_autoptr(GBytes) none = g_bytes_new_static("", 0);

	return testlib_fd_from_bytes(none);
}

static GBytes *
read_fd(int fd)
{
	struct stat st;
	guint8 *data;
	gsize n = 0;

	g_assert_cmpint(fstat(fd, &st), ==, 0);
	g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
	data = g_malloc(st.st_size + 1);
	g_assert_true(ostick_read_all(fd, data, (gsize)st.st_size, &n, NULL));
	g_assert_cmpuint(n, ==, (gsize)st.st_size);
	return g_bytes_new_take(data, n);
}

static GBytes *
encode(GBytes *payload, int level, guint workers)
{
	g_auto(OstickFd) fd = empty_file();
	g_autoptr(GError) error = NULL;
	g_autoptr(OstickZstdWriter) w =
		ostick_zstd_writer_new(fd, level, workers, g_bytes_get_size(payload), &error);
	gsize len = 0;
	const guint8 *p = g_bytes_get_data(payload, &len);
	guint64 input = 0;

	g_assert_no_error(error);
	/* Irregular chunks, as the bundler's xz decoder hands them over. */
	for (gsize off = 0, step = 1; off < len; off += step, step = step * 3 % 65521 + 1)
		g_assert_true(ostick_zstd_writer_write(w, p + off, MIN(step, len - off), &error));
	g_assert_true(ostick_zstd_writer_finish(w, &input, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(input, ==, len);
	return read_fd(fd);
}

/* Decodes @frame expecting @expected bytes; returns the output (or NULL with @error). */
static GBytes *
decode(GBytes *frame, guint64 expected, GError **error)
{
	g_auto(OstickFd) in = testlib_fd_from_bytes(frame);
	g_auto(OstickFd) out = empty_file();
	g_autoptr(GBytes) written = NULL;
	gboolean ok = ostick_zstd_decode_fd(in, out, expected, FALSE, FALSE, NULL, error);

	written = read_fd(out);
	/* Never more than the signed size reaches the disk, whatever the frame says. */
	g_assert_cmpuint(g_bytes_get_size(written), <=, expected);
	return ok ? g_steal_pointer(&written) : NULL;
}

static void
test_roundtrip(void)
{
	const gsize sizes[] = {1, 1000, 300 * 1024, 3 * 1024 * 1024 + 17};

	for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autoptr(GBytes) payload = make_payload(sizes[i], (guint)i);
		g_autoptr(GBytes) frame = encode(payload, 3, 1);
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) back = decode(frame, sizes[i], &error);

		g_assert_no_error(error);
		g_assert_true(g_bytes_equal(back, payload));
	}
}

/* Code-like content: a call every 64 bytes, all to one place, which the writer's conversion
 * makes repeat. (transfer full) */
static GBytes *
make_calls(gsize len)
{
	g_autoptr(GBytes) noise = make_payload(len, 11);
	guint8 *data = g_memdup2(g_bytes_get_data(noise, NULL), len);

	for (gsize i = 0; i + 5 <= len; i += 64) {
		guint32 displacement = 0x40 - (guint32)i;

		memcpy(data + i,
			(guint8[]){0xE8, (guint8)displacement, (guint8)(displacement >> 8), 0xFF,
				0xFF},
			5);
	}
	return g_bytes_new_take(data, len);
}

/* `zstd-x86`: the decoder undoes the conversion the writer made before zstd, across the
 * decoder's output chunks (a 3 MiB payload spans many). */
static void
test_x86_branches(void)
{
	g_autoptr(GBytes) payload = make_calls(3 * 1024 * 1024 + 3);
	gsize len = g_bytes_get_size(payload);
	guint8 *converted = g_memdup2(g_bytes_get_data(payload, NULL), len);
	g_autoptr(GBytes) converted_bytes = NULL;
	g_autoptr(GBytes) frame = NULL;
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(OstickFd) in = -1;
	g_auto(OstickFd) out = empty_file();
	OstickBranchConverter conv;

	ostick_branch_converter_init(&conv, TRUE);
	g_assert_cmpuint(ostick_branch_convert(&conv, converted, len, TRUE), ==, len);
	converted_bytes = g_bytes_new_take(converted, len);
	g_assert_false(g_bytes_equal(converted_bytes, payload));
	frame = encode(converted_bytes, 3, 1);
	in = testlib_fd_from_bytes(frame);
	g_assert_true(ostick_zstd_decode_fd(in, out, len, TRUE, FALSE, NULL, &error));
	g_assert_no_error(error);
	back = read_fd(out);
	g_assert_true(g_bytes_equal(back, payload));
	/* Without the flag the frame's content comes out as it is. */
	g_clear_pointer(&back, g_bytes_unref);
	back = decode(frame, len, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(back, converted_bytes));
}

/* Reproducible bundles: the frame does not depend on how many threads made it. */
static void
test_workers_deterministic(void)
{
	g_autoptr(GBytes) payload = make_payload(5 * 1024 * 1024, 7);
	g_autoptr(GBytes) one = encode(payload, 5, 1);
	g_autoptr(GBytes) two = encode(payload, 5, 2);
	g_autoptr(GBytes) four = encode(payload, 5, 4);

	g_assert_true(g_bytes_equal(one, two));
	g_assert_true(g_bytes_equal(one, four));
}

static void
assert_corrupt(GBytes *frame, guint64 expected, const char *fragment)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) out = decode(frame, expected, &error);

	g_assert_null(out);
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_CORRUPT);
	if (strstr(error->message, fragment) == NULL)
		g_error("'%s' does not say '%s'", error->message, fragment);
}

static void
test_size_mismatch(void)
{
	g_autoptr(GBytes) payload = make_payload(100000, 1);
	g_autoptr(GBytes) frame = encode(payload, 3, 1);

	assert_corrupt(frame, 99999, "more than its payload-size");
	assert_corrupt(frame, 100001, "its payload-size is 100001");
	assert_corrupt(frame, 1, "more than its payload-size");
}

/* 256 MiB of zeros in a few hundred bytes, declared as 4 KiB: stopped at 4 KiB. */
static void
test_bomb(void)
{
	gsize big = 256 * 1024 * 1024;
	g_autofree guint8 *zeros = g_malloc0(big);
	gsize bound = ZSTD_compressBound(big);
	g_autofree guint8 *buf = g_malloc(bound);
	size_t n = ZSTD_compress(buf, bound, zeros, big, 19);
	g_autoptr(GBytes) frame = NULL;

	g_assert_false(ZSTD_isError(n));
	g_assert_cmpuint(n, <, 64 * 1024);
	frame = g_bytes_new(buf, n);
	assert_corrupt(frame, 4096, "more than its payload-size");
}

static void
test_malformed(void)
{
	g_autoptr(GBytes) payload = make_payload(200000, 2);
	g_autoptr(GBytes) frame = encode(payload, 3, 1);
	gsize len = g_bytes_get_size(frame);
	const guint8 *p = g_bytes_get_data(frame, NULL);
	g_autoptr(GBytes) truncated = g_bytes_new(p, len - 3);
	g_autoptr(GByteArray) trailing = g_byte_array_new();
	g_autoptr(GByteArray) twice = g_byte_array_new();
	g_autoptr(GBytes) garbage = make_payload(5000, 3);
	g_autoptr(GBytes) empty = g_bytes_new_static("", 0);

	assert_corrupt(truncated, 200000, "truncated");
	g_byte_array_append(trailing, p, (guint)len);
	g_byte_array_append(trailing, (const guint8 *)"\0", 1);
	{
		g_autoptr(GBytes) b = g_bytes_new(trailing->data, trailing->len);

		assert_corrupt(b, 200000, "after the end of the frame");
	}
	g_byte_array_append(twice, p, (guint)len);
	g_byte_array_append(twice, p, (guint)len);
	{
		g_autoptr(GBytes) b = g_bytes_new(twice->data, twice->len);

		assert_corrupt(b, 400000, "after the end of the frame");
	}
	assert_corrupt(garbage, 5000, "zstd part");
	assert_corrupt(empty, 1, "truncated");
}

/* A frame whose window exceeds the limit is refused before it costs its memory. */
static void
test_window_too_large(void)
{
	g_autoptr(ZSTD_CCtx) cctx = ZSTD_createCCtx();
	g_autoptr(GBytes) payload = make_payload(1000, 4);
	guint8 buf[4096];
	ZSTD_outBuffer out = {buf, sizeof buf, 0};
	ZSTD_inBuffer in = {g_bytes_get_data(payload, NULL), 1000, 0};
	g_autoptr(GBytes) frame = NULL;

	g_assert_false(ZSTD_isError(
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, OSTICK_ZSTD_WINDOW_LOG_MAX + 1)));
	/* Streamed in two calls, the size is unknown up front: the window stays in the header. */
	g_assert_false(ZSTD_isError(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue)));
	in = (ZSTD_inBuffer){NULL, 0, 0};
	g_assert_cmpuint(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end), ==, 0);
	g_assert_cmpuint(ZSTD_getFrameContentSize(buf, out.pos), ==, ZSTD_CONTENTSIZE_UNKNOWN);
	frame = g_bytes_new(buf, out.pos);
	assert_corrupt(frame, 1000, "zstd part");
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	g_test_add_func("/zstd/roundtrip", test_roundtrip);
	g_test_add_func("/zstd/writer/workers-deterministic", test_workers_deterministic);
	g_test_add_func("/zstd/decode/x86-branches", test_x86_branches);
	g_test_add_func("/zstd/decode/size-mismatch", test_size_mismatch);
	g_test_add_func("/zstd/decode/bomb", test_bomb);
	g_test_add_func("/zstd/decode/malformed", test_malformed);
	g_test_add_func("/zstd/decode/window-too-large", test_window_too_large);
	return g_test_run();
}
