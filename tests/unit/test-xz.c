/* test-xz.c: the bounded decoder of libostree's xz parts (FORMAT.md §5.4), the stored xz
 * streams the applier feeds libostree, and freeing a staged input's blocks as it is decoded. Streams come from the xz command, as libostree's
 * generator makes them (liblzma). */
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "ostick-xz.h"
#include "testlib.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deterministic content, partly compressible. */
static GBytes *
make_payload(gsize len)
{
	guint8 *data = g_malloc(len);
	guint32 x = 12345;

	for (gsize i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (i / 8192) % 3 ? (guint8)("payload "[i % 8]) : (guint8)(x >> 24);
	}
	return g_bytes_new_take(data, len);
}

/* 'x' then `xz -8 -c` of @payload: a part file as libostree writes it. */
static GBytes *
make_part(GBytes *payload, char compression)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocess) xz =
		g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
			&error, "xz", "-8", "-c", NULL);
	g_autoptr(GBytes) stream = NULL;
	GByteArray *part = g_byte_array_new();

	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate(xz, payload, NULL, &stream, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(g_subprocess_get_successful(xz));
	g_byte_array_append(part, (const guint8 *)&compression, 1);
	g_byte_array_append(part, g_bytes_get_data(stream, NULL), g_bytes_get_size(stream));
	return g_byte_array_free_to_bytes(part);
}

static gboolean
collect(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	g_byte_array_append(user_data, data, len);
	return TRUE;
}

static gboolean
decode(GBytes *part, guint64 bound, GByteArray *out, guint64 *out_size, GError **error)
{
	g_auto(OstickFd) fd = testlib_fd_from_bytes(part);

	return ostick_xz_decode_part(fd, bound, FALSE, collect, out, out_size, NULL, error);
}

static void
test_roundtrip(void)
{
	g_autoptr(GBytes) payload = make_payload(3 * 1024 * 1024 + 17);
	g_autoptr(GBytes) part = make_part(payload, 'x');
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	guint64 size = 0;

	g_assert_true(decode(part, g_bytes_get_size(payload), out, &size, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(size, ==, g_bytes_get_size(payload));
	g_assert_cmpmem(
		out->data, out->len, g_bytes_get_data(payload, NULL), g_bytes_get_size(payload));
}

/* One byte over the bound fails, and the sink never saw more than the bound. */
static void
test_bound(void)
{
	g_autoptr(GBytes) payload = make_payload(2 * 1024 * 1024);
	g_autoptr(GBytes) part = make_part(payload, 'x');
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	guint64 bound = g_bytes_get_size(payload) - 1;

	g_assert_false(decode(part, bound, out, NULL, &error));
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_CORRUPT);
	g_assert_nonnull(strstr(error->message, "larger than its decoded size allows"));
	g_assert_cmpuint(out->len, <=, bound);
}

/* A bomb: 64 MiB of zeros in a few KiB, against a bound of 1 MiB. */
static void
test_bomb(void)
{
	g_autoptr(GBytes) zeros = g_bytes_new_take(g_malloc0(64 << 20), 64 << 20);
	g_autoptr(GBytes) part = make_part(zeros, 'x');
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(g_bytes_get_size(part), <, 64 << 10);
	g_assert_false(decode(part, 1 << 20, out, NULL, &error));
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_CORRUPT);
	g_assert_cmpuint(out->len, <=, 1 << 20);
}

static void
test_malformed(void)
{
	g_autoptr(GBytes) payload = make_payload(100000);
	g_autoptr(GBytes) part = make_part(payload, 'x');
	g_autoptr(GBytes) uncompressed = make_part(payload, '\0');
	gsize len = g_bytes_get_size(part);
	guint8 *bytes = g_memdup2(g_bytes_get_data(part, NULL), len);
	g_autoptr(GBytes) flipped = NULL;
	g_autoptr(GBytes) cut = g_bytes_new_from_bytes(part, 0, len / 2);
	GBytes *cases[3];

	bytes[len / 2] ^= 0x40;
	flipped = g_bytes_new_take(bytes, len);
	cases[0] = uncompressed;
	cases[1] = flipped;
	cases[2] = cut;
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GByteArray) out = g_byte_array_new();
		g_autoptr(GError) error = NULL;

		g_test_message("case %u", i);
		g_assert_false(decode(cases[i], 1 << 30, out, NULL, &error));
		g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_CORRUPT);
	}
}

/* The bound is what FORMAT.md §5.4 says. */
static void
test_payload_bound(void)
{
	g_assert_cmpuint(ostick_xz_payload_bound(0, 0), ==, 1048576);
	g_assert_cmpuint(
		ostick_xz_payload_bound(4000000, 10), ==, 4000000 + 1000000 + 40960 + 1048576);
	g_assert_cmpuint(ostick_xz_payload_bound(G_GUINT64_CONSTANT(16) << 30, 4096), >,
		G_GUINT64_CONSTANT(16) << 30);
}

/* A stored stream of @payload, fed in pieces of @piece bytes. */
static GBytes *
make_stored(GBytes *payload, gsize piece, guint64 *out_size)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(OstickXzStoredWriter) writer = ostick_xz_stored_writer_new(collect, out, &error);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(payload, &len);

	g_assert_no_error(error);
	for (gsize at = 0; at < len; at += piece)
		g_assert_true(ostick_xz_stored_writer_write(
			writer, data + at, MIN(piece, len - at), &error));
	g_assert_true(ostick_xz_stored_writer_finish(writer, out_size, &error));
	g_assert_no_error(error);
	return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

/* `xz -dc`, another decoder than the one ostick reads parts with. */
static GBytes *
xz_decompress(GBytes *stream)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocess) xz =
		g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
			&error, "xz", "-dc", NULL);
	GBytes *out = NULL;

	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate(xz, stream, NULL, &out, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(g_subprocess_get_successful(xz));
	return out;
}

/* Stored streams decode (stock xz, and ostick's own part decoder) to their input, whatever the
 * size against the 1 MiB blocks and however the input comes; they are the input plus little
 * framing (3 bytes per 64 KiB chunk, some per block), and the same input gives the same bytes. */
static void
test_stored(void)
{
	static const gsize sizes[] = {0, 1, 65536, 1 << 20, (1 << 20) + 1, 3 * 1024 * 1024 + 17};

	for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autoptr(GBytes) payload = make_payload(sizes[i]);
		guint64 size = 0, size_again = 0;
		g_autoptr(GBytes) stream = make_stored(payload, 4096, &size);
		g_autoptr(GBytes) again = make_stored(payload, 1000003, &size_again);
		g_autoptr(GBytes) decoded = xz_decompress(stream);
		g_autoptr(GByteArray) part = g_byte_array_new();
		g_autoptr(GByteArray) out = g_byte_array_new();
		g_autoptr(GBytes) part_bytes = NULL;
		g_autoptr(GError) error = NULL;
		gsize chunks = (sizes[i] + 65535) / 65536,
		      blocks = (sizes[i] + (1 << 20) - 1) >> 20;

		g_test_message("%zu bytes", sizes[i]);
		g_assert_cmpuint(size, ==, g_bytes_get_size(stream));
		g_assert_true(g_bytes_equal(stream, again));
		g_assert_true(g_bytes_equal(decoded, payload));
		g_assert_cmpuint(size, >, sizes[i]);
		g_assert_cmpuint(size - sizes[i], <=, 3 * chunks + 32 * blocks + 64);
		if (sizes[i] == 0)
			continue; /* no part payload is empty; libarchive finds no data in one */
		g_byte_array_append(part, (const guint8 *)"x", 1);
		g_byte_array_append(part, g_bytes_get_data(stream, NULL), (guint)size);
		part_bytes = g_byte_array_free_to_bytes(g_steal_pointer(&part));
		g_assert_true(decode(part_bytes, sizes[i], out, NULL, &error));
		g_assert_no_error(error);
		g_assert_cmpmem(out->data, out->len, g_bytes_get_data(payload, NULL), sizes[i]);
	}
}

static gboolean
refuse(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	guint *calls = user_data;

	if (++*calls < 3)
		return TRUE;
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "the reader is gone");
	return FALSE;
}

/* The sink's error stops the writer and comes back as it is. */
static void
test_stored_sink_error(void)
{
	g_autoptr(GBytes) payload = make_payload(5 << 20);
	g_autoptr(GError) error = NULL;
	guint calls = 0;
	g_autoptr(OstickXzStoredWriter) writer =
		ostick_xz_stored_writer_new(refuse, &calls, &error);
	gboolean ok = TRUE;

	g_assert_no_error(error);
	ok = ostick_xz_stored_writer_write(
		     writer, g_bytes_get_data(payload, NULL), g_bytes_get_size(payload), &error) &&
	     ostick_xz_stored_writer_finish(writer, NULL, &error);
	g_assert_false(ok);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
	g_assert_cmpuint(calls, ==, 3);
}

/* Blocks before the offset are freed, in 1 MiB steps, and never twice. */
static void
test_release_consumed(void)
{
	g_autofree char *dir = g_dir_make_tmp("ostick-test-xz.XXXXXX", NULL);
	g_auto(OstickFd) dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	g_autoptr(GError) error = NULL;
	g_auto(OstickFd) fd = ostick_open_anonymous_tmpfile(dfd, &error);
	g_autoptr(GBytes) data = make_payload(8 << 20);
	struct stat before, after;
	guint64 released = 0;

	g_assert_no_error(error);
	g_assert_true(ostick_write_all(fd, g_bytes_get_data(data, NULL), 8 << 20, &error));
	g_assert_cmpint(fsync(fd), ==, 0);
	g_assert_cmpint(fstat(fd, &before), ==, 0);
	g_assert_cmpint(lseek(fd, (5 << 20) + 4096, SEEK_SET), ==, (5 << 20) + 4096);
	ostick_release_consumed(fd, &released);
	g_assert_cmpint(fstat(fd, &after), ==, 0);
	g_assert_cmpint(after.st_size, ==, 8 << 20);
	if (released == 0) {
		g_test_skip("this filesystem cannot punch holes");
	} else {
		g_assert_cmpuint(released, ==, 5 << 20);
		g_assert_cmpint((before.st_blocks - after.st_blocks) * 512, >=, 5 << 20);
		ostick_release_consumed(fd, &released);
		g_assert_cmpuint(released, ==, 5 << 20);
	}
	g_assert_cmpint(rmdir(dir), ==, 0);
}

/* @part in an anonymous file of its own in @dfd, at offset 0. */
static int
part_file(int dfd, GBytes *part)
{
	g_autoptr(GError) error = NULL;
	int fd = ostick_open_anonymous_tmpfile(dfd, &error);

	g_assert_no_error(error);
	g_assert_true(
		ostick_write_all(fd, g_bytes_get_data(part, NULL), g_bytes_get_size(part), &error));
	g_assert_cmpint(fsync(fd), ==, 0);
	g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
	return fd;
}

/* Whether files in @dfd can have holes punched (FALLOC_FL_PUNCH_HOLE). */
static gboolean
can_punch_holes(int dfd)
{
	g_autoptr(GBytes) probe = make_payload(2 << 20);
	g_auto(OstickFd) fd = part_file(dfd, probe);
	guint64 released = 0;

	g_assert_cmpint(lseek(fd, 0, SEEK_END), ==, 2 << 20);
	ostick_release_consumed(fd, &released);
	return released > 0;
}

/* With release_input, the part's blocks are freed as it is decoded; without, it stays whole. */
static void
test_release_input(void)
{
	g_autofree char *dir = g_dir_make_tmp("ostick-test-xz.XXXXXX", NULL);
	g_auto(OstickFd) dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	g_autoptr(GRand) rand = g_rand_new_with_seed(7);
	guint8 *random = g_malloc(6 << 20);
	g_autoptr(GBytes) payload = NULL;
	g_autoptr(GBytes) part = NULL;

	if (!can_punch_holes(dfd)) {
		g_free(random);
		g_test_skip("this filesystem cannot punch holes");
		g_assert_cmpint(rmdir(dir), ==, 0);
		return;
	}
	for (gsize i = 0; i < (6 << 20); i += 4)
		*(guint32 *)(random + i) = g_rand_int(rand);
	payload = g_bytes_new_take(random, 6 << 20);
	part = make_part(payload, 'x');
	for (int release = 0; release <= 1; release++) {
		g_auto(OstickFd) fd = part_file(dfd, part);
		g_autoptr(GByteArray) out = g_byte_array_new();
		g_autoptr(GBytes) decoded = NULL;
		g_autoptr(GError) error = NULL;
		struct stat before, after;

		g_assert_cmpint(fstat(fd, &before), ==, 0);
		g_assert_true(ostick_xz_decode_part(
			fd, 6 << 20, release, collect, out, NULL, NULL, &error));
		g_assert_no_error(error);
		decoded = g_byte_array_free_to_bytes(g_steal_pointer(&out));
		g_assert_true(g_bytes_equal(payload, decoded));
		g_assert_cmpint(fstat(fd, &after), ==, 0);
		if (release) /* all but the last, partial, release step of 1 MiB */
			g_assert_cmpint((before.st_blocks - after.st_blocks) * 512, >=, 5 << 20);
		else
			g_assert_cmpint(after.st_blocks, ==, before.st_blocks);
	}
	g_assert_cmpint(rmdir(dir), ==, 0);
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	g_test_add_func("/xz/roundtrip", test_roundtrip);
	g_test_add_func("/xz/bound", test_bound);
	g_test_add_func("/xz/bomb", test_bomb);
	g_test_add_func("/xz/malformed", test_malformed);
	g_test_add_func("/xz/payload-bound", test_payload_bound);
	g_test_add_func("/xz/stored", test_stored);
	g_test_add_func("/xz/stored-sink-error", test_stored_sink_error);
	g_test_add_func("/xz/release-input", test_release_input);
	g_test_add_func("/file/release-consumed", test_release_consumed);
	return g_test_run();
}
