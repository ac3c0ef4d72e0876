/* test-glib-checksum.c: the OpenSSL GChecksum (ostick-glib-checksum.c) gives GLib's digests
 * byte for byte, keeps GLib's semantics (closing, copy, reset, length -1, unsupported types),
 * and is what libostree calls. GLib's own implementation, found past this program with
 * dlsym(RTLD_NEXT), is the reference. This program links the file and exports it, as
 * ostick-bundle and ostick-apply do. */
#include "ostick-glib-checksum.h"
#include "testlib.h"

#include <dlfcn.h>
#include <ostree.h>
#include <string.h>

typedef struct {
	GChecksum *(*new_)(GChecksumType type);
	void (*free_)(GChecksum *checksum);
	void (*update)(GChecksum *checksum, const guchar *data, gssize length);
	const gchar *(*get_string)(GChecksum *checksum);
} Reference;

static Reference ref;

static const struct {
	const char *name;
	GChecksumType type;
} types[] = {
	{"md5", G_CHECKSUM_MD5},
	{"sha1", G_CHECKSUM_SHA1},
	{"sha256", G_CHECKSUM_SHA256},
	{"sha384", G_CHECKSUM_SHA384},
	{"sha512", G_CHECKSUM_SHA512},
};

/* GLib's hex digest of @data, fed in pieces ending at each of @cuts. */
static char *
reference_string(GChecksumType type, const guint8 *data, const gsize *cuts, guint n_cuts)
{
	GChecksum *checksum = ref.new_(type);
	gsize at = 0;
	char *hex;

	for (guint i = 0; i < n_cuts; i++) {
		ref.update(checksum, data + at, (gssize)(cuts[i] - at));
		at = cuts[i];
	}
	hex = g_strdup(ref.get_string(checksum));
	ref.free_(checksum);
	return hex;
}

/* GLib's hex digest of @text. */
static char *
reference_of(GChecksumType type, const char *text)
{
	gsize len = strlen(text);

	return reference_string(type, (const guint8 *)text, &len, 1);
}

static void
test_same_digests(gconstpointer data)
{
	GChecksumType type = GPOINTER_TO_INT(data);
	g_autoptr(GRand) rand = g_rand_new_with_seed(20261201);
	gsize sizes[] = {0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 1000, 1 << 20};

	for (gsize s = 0; s < G_N_ELEMENTS(sizes); s++) {
		g_autofree guint8 *buf = g_malloc(sizes[s] + 1);
		gsize cuts[4];
		guint n_cuts = 0;

		for (gsize i = 0; i < sizes[s]; i++)
			buf[i] = (guint8)g_rand_int(rand);
		/* Ascending cut points, ending at the size: chunked feeding of one buffer. */
		for (guint i = 0; i < 3; i++)
			cuts[n_cuts++] =
				sizes[s] == 0 ? 0 : g_rand_int_range(rand, 0, (gint)sizes[s]);
		cuts[n_cuts++] = sizes[s];
		for (guint i = 0; i < n_cuts; i++)
			for (guint j = i + 1; j < n_cuts; j++)
				if (cuts[j] < cuts[i]) {
					gsize t = cuts[i];
					cuts[i] = cuts[j];
					cuts[j] = t;
				}

		g_autofree char *expected = reference_string(type, buf, cuts, n_cuts);
		g_autoptr(GChecksum) mine = g_checksum_new(type);
		guint8 digest[64];
		gsize digest_len = sizeof digest;
		gsize at = 0;
		g_autofree char *digest_hex = NULL;

		for (guint i = 0; i < n_cuts; i++) {
			g_checksum_update(mine, buf + at, (gssize)(cuts[i] - at));
			at = cuts[i];
		}
		g_assert_cmpstr(g_checksum_get_string(mine), ==, expected);
		g_checksum_get_digest(mine, digest, &digest_len);
		g_assert_cmpint(digest_len, ==, g_checksum_type_get_length(type));
		digest_hex = g_malloc(2 * digest_len + 1);
		for (gsize i = 0; i < digest_len; i++)
			g_snprintf(digest_hex + 2 * i, 3, "%02x", digest[i]);
		g_assert_cmpstr(digest_hex, ==, expected);
	}
}

/* Length -1 is a NUL-terminated string, as in GLib. */
static void
test_length_minus_one(void)
{
	g_autoptr(GChecksum) mine = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree char *expected = reference_of(G_CHECKSUM_SHA256, "abc");

	g_checksum_update(mine, (const guchar *)"abc", -1);
	g_assert_cmpstr(g_checksum_get_string(mine), ==, expected);
	g_assert_cmpstr(
		expected, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* A copy goes on from the same state, apart from the original; a closed one keeps its digest. */
static void
test_copy(void)
{
	g_autoptr(GChecksum) a = g_checksum_new(G_CHECKSUM_SHA256);
	g_autoptr(GChecksum) b = NULL;
	g_autoptr(GChecksum) closed = NULL;
	g_autofree char *ab = reference_of(G_CHECKSUM_SHA256, "ab");
	g_autofree char *ac = reference_of(G_CHECKSUM_SHA256, "ac");
	g_autofree char *x = reference_of(G_CHECKSUM_SHA256, "x");

	g_checksum_update(a, (const guchar *)"a", 1);
	b = g_checksum_copy(a);
	g_checksum_update(a, (const guchar *)"b", 1);
	g_checksum_update(b, (const guchar *)"c", 1);
	g_assert_cmpstr(g_checksum_get_string(a), ==, ab);
	g_assert_cmpstr(g_checksum_get_string(b), ==, ac);
	closed = g_checksum_copy(a);
	g_assert_cmpstr(g_checksum_get_string(closed), ==, ab);
	g_checksum_reset(closed);
	g_checksum_update(closed, (const guchar *)"x", 1);
	g_assert_cmpstr(g_checksum_get_string(closed), ==, x);
}

/* Closed after the first digest: the same string (pointer and text), updates refused until a
 * reset, after which it is as new. */
static void
test_close_and_reset(void)
{
	g_autoptr(GChecksum) mine = g_checksum_new(G_CHECKSUM_SHA1);
	g_autofree char *abc = reference_of(G_CHECKSUM_SHA1, "abc");
	g_autofree char *empty = reference_of(G_CHECKSUM_SHA1, "");
	const char *first;

	g_checksum_update(mine, (const guchar *)"abc", 3);
	first = g_checksum_get_string(mine);
	g_assert_cmpstr(first, ==, abc);
	g_assert_true(g_checksum_get_string(mine) == first);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*digest_len == 0*");
	g_checksum_update(mine, (const guchar *)"more", 4);
	g_test_assert_expected_messages();
	g_assert_cmpstr(g_checksum_get_string(mine), ==, abc);
	g_checksum_reset(mine);
	g_assert_cmpstr(g_checksum_get_string(mine), ==, empty);
}

/* A buffer shorter than the digest gets nothing, as in GLib. */
static void
test_short_buffer(void)
{
	g_autoptr(GChecksum) mine = g_checksum_new(G_CHECKSUM_SHA256);
	guint8 digest[16] = {0};
	gsize len = sizeof digest;

	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*digest_len*");
	g_checksum_get_digest(mine, digest, &len);
	g_test_assert_expected_messages();
	g_assert_cmpint(len, ==, sizeof digest);
}

static void
test_unsupported_type(void)
{
	g_assert_null(g_checksum_new((GChecksumType)99));
	g_assert_null(ref.new_((GChecksumType)99));
}

/* The dynamic linker binds everyone's g_checksum_new() to this program's, and libostree's
 * object checksums go through OpenSSL. */
static void
test_libostree_binds_here(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GFileInfo) info = g_file_info_new();
	g_autoptr(GInputStream) in = NULL;
	g_autofree guchar *csum = NULL;
	guint before;

	g_assert_true(dlsym(RTLD_DEFAULT, "g_checksum_new") == (void *)g_checksum_new);
	g_assert_true(ref.new_ != NULL && ref.new_ != g_checksum_new);
	g_file_info_set_file_type(info, G_FILE_TYPE_REGULAR);
	g_file_info_set_attribute_uint32(info, "unix::mode", 0100644);
	g_file_info_set_size(info, 5);
	in = g_memory_input_stream_new_from_data("hello", 5, NULL);
	before = ostick_glib_checksum_openssl_count();
	g_assert_true(ostree_checksum_file_from_input(
		info, NULL, in, OSTREE_OBJECT_TYPE_FILE, &csum, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ostick_glib_checksum_openssl_count(), >, before);
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	ref.new_ = dlsym(RTLD_NEXT, "g_checksum_new");
	ref.free_ = dlsym(RTLD_NEXT, "g_checksum_free");
	ref.update = dlsym(RTLD_NEXT, "g_checksum_update");
	ref.get_string = dlsym(RTLD_NEXT, "g_checksum_get_string");
	g_assert_true(ref.new_ && ref.free_ && ref.update && ref.get_string);
	for (gsize i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autofree char *path =
			g_strdup_printf("/glib-checksum/same-as-glib/%s", types[i].name);

		g_test_add_data_func(path, GINT_TO_POINTER(types[i].type), test_same_digests);
	}
	g_test_add_func("/glib-checksum/length-minus-one", test_length_minus_one);
	g_test_add_func("/glib-checksum/copy", test_copy);
	g_test_add_func("/glib-checksum/close-and-reset", test_close_and_reset);
	g_test_add_func("/glib-checksum/short-buffer", test_short_buffer);
	g_test_add_func("/glib-checksum/unsupported-type", test_unsupported_type);
	g_test_add_func("/glib-checksum/libostree-binds-here", test_libostree_binds_here);
	return g_test_run();
}
