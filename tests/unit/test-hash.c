/* test-hash.c: SHA-256 (FIPS 180-2 vectors, streaming equals one-shot) and the strict hex
 * helpers. */
#include "ostick-cleanup.h"
#include "ostick-hash.h"
#include "testlib.h"

#include <string.h>

/* FIPS 180-2 appendix B and the usual extras; checked with `printf %s ... | sha256sum`. */
typedef struct {
	const char *name;
	const char *input;
	const char *sha256;
} Vector;

static const Vector vectors[] = {
	{"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{"448-bit", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	{"896-bit",
		"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnop"
		"qrlmnopqrsmnopqrstnopqrstu",
		"cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
};

/* 1,000,000 times 'a' (FIPS 180-2 B.3). */
#define MILLION_A_SHA256 "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define MILLION 1000000

static void
test_sha256_vector(gconstpointer data)
{
	const Vector *v = data;
	guint8 digest[OSTICK_SHA256_LEN];
	guint8 expected[OSTICK_SHA256_LEN];
	char hex[OSTICK_SHA256_HEX_LEN + 1];

	g_assert_true(ostick_hex_decode(v->sha256, expected, sizeof expected));
	ostick_sha256(v->input, strlen(v->input), digest);
	g_assert_cmpmem(digest, sizeof digest, expected, sizeof expected);
	ostick_sha256_hex(v->input, strlen(v->input), hex);
	g_assert_cmpstr(hex, ==, v->sha256);
}

/* Every split point of the input into two updates, plus an empty update in between. */
static void
test_sha256_streaming_split(gconstpointer data)
{
	const Vector *v = data;
	gsize len = strlen(v->input);

	for (gsize cut = 0; cut <= len; cut++) {
		g_autoptr(EVP_MD_CTX) ctx = ostick_sha256_new();
		char hex[OSTICK_SHA256_HEX_LEN + 1];

		ostick_sha256_update(ctx, v->input, cut);
		ostick_sha256_update(ctx, "", 0);
		ostick_sha256_update(ctx, v->input + cut, len - cut);
		ostick_sha256_finish_hex(ctx, hex);
		g_assert_cmpstr(hex, ==, v->sha256);
	}
}

static void
test_sha256_streaming_bytewise(gconstpointer data)
{
	const Vector *v = data;
	g_autoptr(EVP_MD_CTX) ctx = ostick_sha256_new();
	guint8 streamed[OSTICK_SHA256_LEN];
	guint8 oneshot[OSTICK_SHA256_LEN];

	for (const char *p = v->input; *p; p++)
		ostick_sha256_update(ctx, p, 1);
	ostick_sha256_finish(ctx, streamed);
	ostick_sha256(v->input, strlen(v->input), oneshot);
	g_assert_cmpmem(streamed, sizeof streamed, oneshot, sizeof oneshot);
}

static char *
hash_in_chunks(const char *data, gsize len, gsize chunk)
{
	g_autoptr(EVP_MD_CTX) ctx = ostick_sha256_new();
	char hex[OSTICK_SHA256_HEX_LEN + 1];

	for (gsize off = 0; off < len; off += chunk)
		ostick_sha256_update(ctx, data + off, MIN(chunk, len - off));
	ostick_sha256_finish_hex(ctx, hex);
	return g_strdup(hex);
}

static void
test_sha256_million(void)
{
	static const gsize chunks[] = {1, 7, 64, 1000, 65537, MILLION};
	g_autofree char *data = g_malloc(MILLION);
	char oneshot[OSTICK_SHA256_HEX_LEN + 1];

	memset(data, 'a', MILLION);
	ostick_sha256_hex(data, MILLION, oneshot);
	g_assert_cmpstr(oneshot, ==, MILLION_A_SHA256);
	for (gsize i = 0; i < G_N_ELEMENTS(chunks); i++) {
		g_autofree char *streamed = hash_in_chunks(data, MILLION, chunks[i]);

		g_assert_cmpstr(streamed, ==, MILLION_A_SHA256);
	}
}

/* Binary and hex finish agree, and the hex form is lowercase. */
static void
test_sha256_finish_forms(void)
{
	g_autoptr(EVP_MD_CTX) a = ostick_sha256_new();
	g_autoptr(EVP_MD_CTX) b = ostick_sha256_new();
	guint8 digest[OSTICK_SHA256_LEN];
	char hex[OSTICK_SHA256_HEX_LEN + 1];
	char encoded[OSTICK_SHA256_HEX_LEN + 1];

	ostick_sha256_update(a, "\x00\xff", 2);
	ostick_sha256_update(b, "\x00\xff", 2);
	ostick_sha256_finish(a, digest);
	ostick_sha256_finish_hex(b, hex);
	ostick_hex_encode(digest, sizeof digest, encoded);
	g_assert_cmpstr(hex, ==, encoded);
	g_assert_cmpuint(strlen(hex), ==, OSTICK_SHA256_HEX_LEN);
	g_assert_true(ostick_is_sha256_hex(hex));
}

typedef struct {
	const char *name;
	const guint8 *bytes;
	gsize len;
	const char *hex;
} HexRow;

static const HexRow hex_rows[] = {
	{"empty", (const guint8 *)"", 0, ""},
	{"zero", (const guint8 *)"\x00", 1, "00"},
	{"ff", (const guint8 *)"\xff", 1, "ff"},
	{"nibbles", (const guint8 *)"\x01\x23\x45\x67\x89\xab\xcd\xef", 8, "0123456789abcdef"},
	{"high-low", (const guint8 *)"\xf0\x0f\xa5\x5a", 4, "f00fa55a"},
};

#define SENTINEL 'Z'

static void
test_hex_encode(gconstpointer data)
{
	const HexRow *row = data;
	char out[32];

	memset(out, SENTINEL, sizeof out);
	ostick_hex_encode(row->bytes, row->len, out);
	g_assert_cmpstr(out, ==, row->hex);
	/* Exactly 2 * len + 1 bytes written. */
	g_assert_cmpint(out[2 * row->len + 1], ==, SENTINEL);
}

static void
test_hex_decode(gconstpointer data)
{
	const HexRow *row = data;
	guint8 out[16];

	memset(out, SENTINEL, sizeof out);
	g_assert_true(ostick_hex_decode(row->hex, out, row->len));
	g_assert_cmpmem(out, row->len, row->bytes, row->len);
	g_assert_cmpint(out[row->len], ==, SENTINEL);
}

/* All 256 byte values: encode matches printf("%02x"), and decode inverts encode. */
static void
test_hex_all_bytes(void)
{
	guint8 bytes[256];
	guint8 back[256];
	char hex[2 * sizeof bytes + 1];

	for (guint i = 0; i < 256; i++)
		bytes[i] = (guint8)i;
	ostick_hex_encode(bytes, sizeof bytes, hex);
	for (guint i = 0; i < 256; i++) {
		g_autofree char *want = g_strdup_printf("%02x", i);

		g_assert_cmpmem(hex + 2 * i, 2, want, 2);
	}
	g_assert_true(ostick_hex_decode(hex, back, sizeof back));
	g_assert_cmpmem(back, sizeof back, bytes, sizeof bytes);
}

typedef struct {
	const char *name;
	const char *hex;
	gsize len;
} BadHexRow;

static const BadHexRow bad_hex_rows[] = {
	{"uppercase", "AB", 1},
	{"uppercase-high", "Ab", 1},
	{"uppercase-low", "aB", 1},
	{"uppercase-digest", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		32},
	{"too-short", "ab", 2},
	{"too-long", "abcd", 1},
	{"odd-length", "abc", 1},
	{"half-byte", "a", 1},
	{"empty-for-one", "", 1},
	{"one-for-empty", "00", 0},
	{"letter-g", "0g", 1},
	{"letter-z", "zz", 1},
	{"prefix-0x", "0x", 1},
	{"leading-space", " a", 1},
	{"trailing-space", "a ", 1},
	{"minus", "-1", 1},
	{"plus", "+1", 1},
	{"colon", "a:", 1},
	{"utf8", "\xc3\xa9", 1},
	{"high-bit", "\xff\xff", 1},
	{"newline", "0\n", 1},
	{"bad-in-last-byte", "00000g", 3},
};

static void
test_hex_decode_rejects(gconstpointer data)
{
	const BadHexRow *row = data;
	guint8 out[64];

	g_assert_false(ostick_hex_decode(row->hex, out, row->len));
}

static void
test_hex_decode_null(void)
{
	guint8 out[1];

	g_assert_false(ostick_hex_decode(NULL, out, 1));
	g_assert_false(ostick_hex_decode(NULL, out, 0));
}

typedef struct {
	const char *name;
	const char *s;
	gboolean valid;
} Sha256HexRow;

static const Sha256HexRow sha256_hex_rows[] = {
	{"empty-digest", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", TRUE},
	{"all-digits", "0123456789012345678901234567890123456789012345678901234567890123", TRUE},
	{"uppercase", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", FALSE},
	{"one-upper", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85F", FALSE},
	{"63-chars", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", FALSE},
	{"65-chars", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550", FALSE},
	{"non-hex", "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", FALSE},
	{"empty", "", FALSE},
	{"null", NULL, FALSE},
};

static void
test_is_sha256_hex(gconstpointer data)
{
	const Sha256HexRow *row = data;

	g_assert_cmpint(ostick_is_sha256_hex(row->s), ==, row->valid);
}

#define ADD_ROWS(prefix, rows, func)                                                               \
	for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {                                           \
		g_autofree char *path = g_strdup_printf(prefix "/%s", rows[i].name);               \
		g_test_add_data_func(path, &rows[i], func);                                        \
	}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	ADD_ROWS("/hash/sha256/vector", vectors, test_sha256_vector);
	ADD_ROWS("/hash/sha256_update/split", vectors, test_sha256_streaming_split);
	ADD_ROWS("/hash/sha256_update/bytewise", vectors, test_sha256_streaming_bytewise);
	g_test_add_func("/hash/sha256_update/million-a", test_sha256_million);
	g_test_add_func("/hash/sha256_finish/binary-equals-hex", test_sha256_finish_forms);
	ADD_ROWS("/hash/hex_encode", hex_rows, test_hex_encode);
	g_test_add_func("/hash/hex_encode/all-bytes", test_hex_all_bytes);
	ADD_ROWS("/hash/hex_decode/valid", hex_rows, test_hex_decode);
	ADD_ROWS("/hash/hex_decode/reject", bad_hex_rows, test_hex_decode_rejects);
	g_test_add_func("/hash/hex_decode/reject/null", test_hex_decode_null);
	ADD_ROWS("/hash/is_sha256_hex", sha256_hex_rows, test_is_sha256_hex);
	return g_test_run();
}
