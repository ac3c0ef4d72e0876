/* test-tar-headers.c: the raw header chain check of FORMAT.md §2.3 (what libarchive hides): type
 * flags, pax and GNU extension headers, GNU.sparse records, and the window's wrap-around. */
#include "ostick-error.h"
#include "ostick-tar-headers.h"
#include "testlib.h"

#include <stdarg.h>
#include <string.h>

/* A 512-byte header block of type @flag with size @size (octal, as tar writes it). */
static void
append_header(GByteArray *out, char flag, guint64 size)
{
	guint8 block[512] = {0};

	memcpy(block, "member", 6);
	g_snprintf((char *)block + 124, 12, "%011" G_GINT64_MODIFIER "o", size);
	block[156] = (guint8)flag;
	memcpy(block + 257, "ustar", 6);
	g_byte_array_append(out, block, sizeof block);
}

/* An extension header of type @flag carrying @data, padded to blocks. */
static void
append_extension(GByteArray *out, char flag, const char *data)
{
	gsize len = strlen(data);
	guint8 zeros[512] = {0};

	append_header(out, flag, len);
	g_byte_array_append(out, (const guint8 *)data, len);
	g_byte_array_append(out, zeros, (512 - len % 512) % 512);
}

/* pax records "LEN KEY=VALUE\n", LEN counting itself; NULL-terminated pairs. (transfer full) */
static char *
pax(const char *first_key, ...)
{
	GString *out = g_string_new(NULL);
	va_list args;

	va_start(args, first_key);
	for (const char *key = first_key; key != NULL; key = va_arg(args, const char *)) {
		const char *value = va_arg(args, const char *);
		gsize body = strlen(key) + strlen(value) + 3; /* ' ', '=', '\n' */
		gsize len = body + 1;

		for (;;) {
			g_autofree char *digits = g_strdup_printf("%" G_GSIZE_FORMAT, len);

			if (len == body + strlen(digits))
				break;
			len++;
		}
		g_string_append_printf(out, "%" G_GSIZE_FORMAT " %s=%s\n", len, key, value);
	}
	va_end(args);
	return g_string_free(out, FALSE);
}

/* Checks the chain in @chain after @junk bytes of other stream content. */
static gboolean
check_after(GByteArray *chain, gsize junk, GError **error)
{
	g_autoptr(OstickTarWindow) window = ostick_tar_window_new();
	g_autofree guint8 *filler = g_malloc0(MAX(junk, 1));

	/* In uneven pieces, as reads come. */
	for (gsize done = 0; done < junk;) {
		gsize n = MIN(junk - done, 65521);

		ostick_tar_window_add(window, filler, n);
		done += n;
	}
	for (gsize done = 0; done < chain->len;) {
		gsize n = MIN(chain->len - done, 333);

		ostick_tar_window_add(window, chain->data + done, n);
		done += n;
	}
	return ostick_tar_window_check_member(window, junk, "delta/0", error);
}

static void
assert_refused(GByteArray *chain, gsize junk, const char *message_part)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(check_after(chain, junk, &error));
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_FORMAT);
	g_assert_nonnull(strstr(error->message, message_part));
}

static void
test_regular_types(void)
{
	const char flags[] = {'0', '\0', '7'};

	for (guint i = 0; i < G_N_ELEMENTS(flags); i++) {
		g_autoptr(GByteArray) chain = g_byte_array_new();
		g_autoptr(GError) error = NULL;

		append_header(chain, flags[i], 1000);
		g_assert_true(check_after(chain, 0, &error));
		g_assert_no_error(error);
	}
}

static void
test_other_types(void)
{
	const char flags[] = {'1', '2', '3', '4', '5', '6', '8', 'Z', 'N', 'V', 'M', 'D', 'A', 'X'};

	for (guint i = 0; i < G_N_ELEMENTS(flags); i++) {
		g_autoptr(GByteArray) chain = g_byte_array_new();

		append_header(chain, flags[i], 1000);
		assert_refused(chain, 0, "is not a regular file (tar type");
	}
}

static void
test_extensions(void)
{
	g_autoptr(GByteArray) ok = g_byte_array_new();
	g_autoptr(GByteArray) link = g_byte_array_new();
	g_autoptr(GError) error = NULL;

	g_autofree char *global = pax("comment", "global", NULL);
	g_autofree char *records = pax("path", "delta/0", "size", "1000", NULL);
	g_autofree char *link_records = pax("comment", "a link!", NULL);

	append_extension(ok, 'g', global);
	append_extension(ok, 'x', records);
	append_extension(ok, 'L', "delta/0");
	append_header(ok, '0', 1000);
	g_assert_true(check_after(ok, 7, &error));
	g_assert_no_error(error);
	/* A pax header over a hard link with no name: libarchive calls it a regular file. */
	append_extension(link, 'x', link_records);
	append_header(link, '1', 1000);
	assert_refused(link, 0, "tar type '1'");
}

static void
test_sparse(void)
{
	g_autoptr(GByteArray) gnu = g_byte_array_new();
	g_autoptr(GByteArray) pax_chain = g_byte_array_new();
	g_autoptr(GByteArray) comment = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *sparse = pax("GNU.sparse.major", "1", "GNU.sparse.minor", "0", NULL);
	g_autofree char *words = pax("comment", "GNU.sparse.major=1", NULL);

	append_header(gnu, 'S', 1000);
	assert_refused(gnu, 0, "is sparse");
	append_extension(pax_chain, 'x', sparse);
	append_header(pax_chain, '0', 1000);
	assert_refused(pax_chain, 0, "is sparse");
	/* The words in a value are not a record. */
	append_extension(comment, 'x', words);
	append_header(comment, '0', 1000);
	g_assert_true(check_after(comment, 0, &error));
	g_assert_no_error(error);
}

/* Across the end of the ring, and out of it. */
static void
test_window(void)
{
	g_autoptr(GByteArray) chain = g_byte_array_new();
	g_autoptr(GByteArray) big = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *huge = g_strnfill(OSTICK_TAR_WINDOW, 'a');
	g_autofree char *records = pax("path", "delta/0", NULL);

	append_extension(chain, 'x', records);
	append_header(chain, '0', 1000);
	g_assert_true(check_after(chain, OSTICK_TAR_WINDOW - 700, &error));
	g_assert_true(check_after(chain, 3 * OSTICK_TAR_WINDOW + 5, &error));
	g_assert_no_error(error);
	append_extension(big, 'L', huge);
	append_header(big, '0', 1000);
	assert_refused(big, 0, "extended header");
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	g_test_add_func("/tar-headers/regular-types", test_regular_types);
	g_test_add_func("/tar-headers/other-types", test_other_types);
	g_test_add_func("/tar-headers/extensions", test_extensions);
	g_test_add_func("/tar-headers/sparse", test_sparse);
	g_test_add_func("/tar-headers/window", test_window);
	return g_test_run();
}
