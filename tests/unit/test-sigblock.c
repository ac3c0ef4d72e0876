/* test-sigblock.c: the signature block (FORMAT.md §4) byte by byte: layout at fixed offsets,
 * round trips, and every structural rejection with its exact error code. */
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-format.h"
#include "ostick-sigblock.h"
#include "testlib.h"

#include <string.h>

/* The layout written out as plain numbers, so that a wrong constant in ostick-format.h fails. */
#define HEADER_SIZE 16
#define RECORD_SIZE 100
#define OFF_VERSION 8
#define OFF_COUNT 12
#define REC_OFF_ALG 0
#define REC_OFF_RESERVED 2
#define REC_OFF_KEY_ID 4
#define REC_OFF_VALUE 36

/* @n distinct signatures: alternating known algorithms, key ID and value derived from index. */
static OstickSignature *
make_sigs(guint n)
{
	OstickSignature *sigs = g_new0(OstickSignature, n);

	for (guint i = 0; i < n; i++) {
		sigs[i].algorithm =
			i % 2 ? OSTICK_SIG_ALG_ECDSA_P256_SHA256 : OSTICK_SIG_ALG_ED25519;
		for (guint b = 0; b < OSTICK_KEY_ID_LEN; b++)
			sigs[i].key_id[b] = (guint8)(i * 31 + b + 1);
		for (guint b = 0; b < OSTICK_SIG_VALUE_LEN; b++)
			sigs[i].value[b] = (guint8)(255 - i - b);
	}
	return sigs;
}

/* A valid block of @n signatures as a mutable copy. */
static guint8 *
make_block(guint n, gsize *out_len)
{
	g_autofree OstickSignature *sigs = make_sigs(n);
	g_autoptr(GBytes) bytes = ostick_sigblock_serialize(sigs, n);

	g_assert_nonnull(bytes);
	return g_bytes_unref_to_data(g_steal_pointer(&bytes), out_len);
}

static gsize
block_size(guint n)
{
	return HEADER_SIZE + (gsize)n * RECORD_SIZE;
}

static guint8 *
record(guint8 *block, guint index)
{
	return block + HEADER_SIZE + (gsize)index * RECORD_SIZE;
}

/* Parses @buf and asserts the exact failure; the output stays untouched. */
static void
assert_parse_fails(const guint8 *buf, gsize len, OstickErrorCode code)
{
	g_autoptr(GError) error = NULL;
	GArray *sigs = NULL;

	g_assert_false(ostick_sigblock_parse(buf, len, &sigs, &error));
	g_assert_error(error, OSTICK_ERROR, (gint)code);
	g_assert_null(sigs);
}

static GArray *
parse_ok(const guint8 *buf, gsize len)
{
	g_autoptr(GError) error = NULL;
	GArray *sigs = NULL;

	g_assert_true(ostick_sigblock_parse(buf, len, &sigs, &error));
	g_assert_no_error(error);
	g_assert_nonnull(sigs);
	return sigs;
}

static void
test_constants(void)
{
	g_assert_cmpstr(OSTICK_SIG_MAGIC, ==, "OSTICKSG");
	g_assert_cmpint(OSTICK_SIG_MAGIC_LEN, ==, 8);
	g_assert_cmpint(OSTICK_SIG_VERSION, ==, 1);
	g_assert_cmpint(OSTICK_SIG_OFF_MAGIC, ==, 0);
	g_assert_cmpint(OSTICK_SIG_OFF_VERSION, ==, OFF_VERSION);
	g_assert_cmpint(OSTICK_SIG_OFF_COUNT, ==, OFF_COUNT);
	g_assert_cmpint(OSTICK_SIG_HEADER_SIZE, ==, HEADER_SIZE);
	g_assert_cmpint(OSTICK_SIG_RECORD_SIZE, ==, RECORD_SIZE);
	g_assert_cmpint(OSTICK_SIG_REC_OFF_ALGORITHM, ==, REC_OFF_ALG);
	g_assert_cmpint(OSTICK_SIG_REC_OFF_RESERVED, ==, REC_OFF_RESERVED);
	g_assert_cmpint(OSTICK_SIG_REC_OFF_KEY_ID, ==, REC_OFF_KEY_ID);
	g_assert_cmpint(OSTICK_SIG_REC_OFF_VALUE, ==, REC_OFF_VALUE);
	g_assert_cmpint(OSTICK_KEY_ID_LEN, ==, 32);
	g_assert_cmpint(OSTICK_SIG_VALUE_LEN, ==, 64);
	g_assert_cmpint(OSTICK_SIG_MAX_COUNT, ==, 16);
	g_assert_cmpint(OSTICK_SIG_MAX_SIZE, ==, 16 + 16 * 100);
	g_assert_cmpint(OSTICK_SIG_ALG_ED25519, ==, 1);
	g_assert_cmpint(OSTICK_SIG_ALG_ECDSA_P256_SHA256, ==, 2);
}

static void
test_load_store(void)
{
	guint8 buf[4] = {0};

	ostick_store_le32(buf, 0x04030201);
	g_assert_cmpmem(buf, 4, "\x01\x02\x03\x04", 4);
	g_assert_cmpuint(ostick_load_le32((const guint8 *)"\xfe\xdc\xba\x98"), ==, 0x98badcfe);
	ostick_store_le16(buf, 0xbeef);
	g_assert_cmpmem(buf, 2, "\xef\xbe", 2);
	g_assert_cmpuint(ostick_load_le16((const guint8 *)"\x34\x12"), ==, 0x1234);
}

static void
assert_record_layout(const guint8 *rec, const OstickSignature *sig, const guint8 alg_le[2])
{
	g_assert_cmpmem(rec + REC_OFF_ALG, 2, alg_le, 2);
	g_assert_cmpmem(rec + REC_OFF_RESERVED, 2, "\0\0", 2);
	g_assert_cmpmem(rec + REC_OFF_KEY_ID, 32, sig->key_id, 32);
	g_assert_cmpmem(rec + REC_OFF_VALUE, 64, sig->value, 64);
}

/* Byte offsets checked one by one against FORMAT.md §4, not through the format constants. */
static void
test_layout(void)
{
	g_autofree OstickSignature *sigs = make_sigs(2);
	g_autoptr(GBytes) bytes = NULL;
	const guint8 *buf;
	gsize len = 0;

	sigs[1].algorithm = 0x0102; /* shows the byte order of the algorithm field */
	bytes = ostick_sigblock_serialize(sigs, 2);
	buf = g_bytes_get_data(bytes, &len);
	g_assert_cmpuint(len, ==, 16 + 2 * 100);
	g_assert_cmpmem(buf, 8, "OSTICKSG", 8);
	g_assert_cmpmem(buf + 8, 4, "\x01\x00\x00\x00", 4);
	g_assert_cmpmem(buf + 12, 4, "\x02\x00\x00\x00", 4);
	assert_record_layout(buf + 16, &sigs[0], (const guint8 *)"\x01\x00");
	assert_record_layout(buf + 116, &sigs[1], (const guint8 *)"\x02\x01");
}

static void
assert_sigs_equal(GArray *parsed, const OstickSignature *sigs, guint n)
{
	g_assert_cmpuint(parsed->len, ==, n);
	for (guint i = 0; i < n; i++) {
		const OstickSignature *got = &g_array_index(parsed, OstickSignature, i);

		g_assert_cmpuint(got->algorithm, ==, sigs[i].algorithm);
		g_assert_cmpmem(got->key_id, OSTICK_KEY_ID_LEN, sigs[i].key_id, OSTICK_KEY_ID_LEN);
		g_assert_cmpmem(
			got->value, OSTICK_SIG_VALUE_LEN, sigs[i].value, OSTICK_SIG_VALUE_LEN);
	}
}

static void
test_roundtrip(gconstpointer data)
{
	guint n = GPOINTER_TO_UINT(data);
	g_autofree OstickSignature *sigs = make_sigs(n);
	g_autoptr(GBytes) bytes = ostick_sigblock_serialize(sigs, n);
	gsize len = 0;
	const guint8 *buf = g_bytes_get_data(bytes, &len);
	g_autoptr(GArray) parsed = NULL;

	g_assert_cmpuint(len, ==, block_size(n));
	parsed = parse_ok(buf, len);
	assert_sigs_equal(parsed, sigs, n);
}

/* Outside 1..16 signatures is a caller bug: a critical, and no block. */
static void
test_serialize_count_out_of_range(void)
{
	static const guint counts[] = {0, OSTICK_SIG_MAX_COUNT + 1};
	g_autofree OstickSignature *sigs = make_sigs(OSTICK_SIG_MAX_COUNT + 1);

	for (gsize i = 0; i < G_N_ELEMENTS(counts); i++) {
		GBytes *bytes;

		g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*n_sigs*");
		bytes = ostick_sigblock_serialize(sigs, counts[i]);
		g_test_assert_expected_messages();
		g_assert_null(bytes);
	}
}

/* Parsing checks structure only: algorithms it does not know pass through unchanged. */
static void
test_roundtrip_unknown_algorithm(void)
{
	g_autofree OstickSignature *sigs = make_sigs(3);
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(GArray) parsed = NULL;
	gsize len = 0;
	const guint8 *buf;

	sigs[0].algorithm = 3;
	sigs[2].algorithm = 0xffff;
	bytes = ostick_sigblock_serialize(sigs, 3);
	buf = g_bytes_get_data(bytes, &len);
	parsed = parse_ok(buf, len);
	assert_sigs_equal(parsed, sigs, 3);
}

static void
test_truncated(gconstpointer data)
{
	guint n = GPOINTER_TO_UINT(data);
	gsize size = 0;
	g_autofree guint8 *block = make_block(n, &size);

	g_assert_cmpuint(size, ==, block_size(n));
	for (gsize len = 0; len < size; len++)
		assert_parse_fails(block, len, OSTICK_ERROR_FORMAT);
}

/* FORMAT.md §4: magic and count errors are FORMAT, a different version is VERSION. */
static OstickErrorCode
header_code_at(gsize offset)
{
	if (offset >= OFF_VERSION && offset < OFF_COUNT)
		return OSTICK_ERROR_VERSION;
	return OSTICK_ERROR_FORMAT;
}

/* Every byte of the 16-byte header, changed in several ways, with the exact code per offset. */
static void
test_header_bytes(gconstpointer data)
{
	static const guint8 xors[] = {0x01, 0x02, 0x10, 0x80, 0xff};
	guint n = GPOINTER_TO_UINT(data);
	gsize size = 0;
	g_autofree guint8 *block = make_block(n, &size);

	for (gsize off = 0; off < HEADER_SIZE; off++) {
		for (gsize x = 0; x < G_N_ELEMENTS(xors); x++) {
			g_autofree guint8 *copy = g_memdup2(block, size);

			copy[off] ^= xors[x];
			if (g_test_verbose())
				g_test_message("offset %zu xor 0x%02x", off, xors[x]);
			assert_parse_fails(copy, size, header_code_at(off));
		}
	}
}

typedef struct {
	const char *name;
	guint32 count;
	guint n_records; /* records actually present after the header */
} CountRow;

static const CountRow count_rows[] = {
	{"zero-empty", 0, 0},
	{"zero-one-record", 0, 1},
	{"seventeen", 17, 17},
	{"max-u32", G_MAXUINT32, 1},
	{"two-for-one", 2, 1},
	{"one-for-two", 1, 2},
};

static void
test_count(gconstpointer data)
{
	const CountRow *row = data;
	g_autofree OstickSignature *sigs = make_sigs(1);
	g_autoptr(GBytes) one = ostick_sigblock_serialize(sigs, 1);
	gsize len = block_size(row->n_records);
	g_autofree guint8 *buf = g_malloc0(len);

	/* A valid header and record 0 repeated, then the count under test. */
	memcpy(buf, g_bytes_get_data(one, NULL), HEADER_SIZE);
	for (guint i = 0; i < row->n_records; i++) {
		memcpy(record(buf, i), (const guint8 *)g_bytes_get_data(one, NULL) + HEADER_SIZE,
			RECORD_SIZE);
		record(buf, i)[REC_OFF_KEY_ID] = (guint8)i; /* distinct key IDs */
	}
	ostick_store_le32(buf + OFF_COUNT, row->count);
	assert_parse_fails(buf, len, OSTICK_ERROR_FORMAT);
}

/* The largest count is accepted (the boundary beside "seventeen"). */
static void
test_count_max(void)
{
	gsize size = 0;
	g_autofree guint8 *block = make_block(OSTICK_SIG_MAX_COUNT, &size);
	g_autoptr(GArray) parsed = parse_ok(block, size);

	g_assert_cmpuint(parsed->len, ==, 16);
}

static void
test_trailing(gconstpointer data)
{
	guint n = GPOINTER_TO_UINT(data);
	gsize size = 0;
	g_autofree guint8 *block = make_block(n, &size);
	g_autofree guint8 *longer = g_malloc0(size + RECORD_SIZE);

	memcpy(longer, block, size);
	assert_parse_fails(longer, size + 1, OSTICK_ERROR_FORMAT);
	/* A whole extra record that the count does not announce. */
	memcpy(longer + size, record(block, 0), RECORD_SIZE);
	longer[size + REC_OFF_KEY_ID] ^= 0xff;
	assert_parse_fails(longer, size + RECORD_SIZE, OSTICK_ERROR_FORMAT);
}

/* FORMAT.md §4.2: the reserved field must be zero, in every record, either byte. */
static void
test_reserved(void)
{
	gsize size = 0;
	g_autofree guint8 *block = make_block(3, &size);
	static const guint records[] = {0, 2};

	for (gsize r = 0; r < G_N_ELEMENTS(records); r++) {
		for (gsize b = 0; b < 2; b++) {
			g_autofree guint8 *copy = g_memdup2(block, size);

			record(copy, records[r])[REC_OFF_RESERVED + b] = 0x01;
			assert_parse_fails(copy, size, OSTICK_ERROR_FORMAT);
			record(copy, records[r])[REC_OFF_RESERVED + b] = 0x80;
			assert_parse_fails(copy, size, OSTICK_ERROR_FORMAT);
		}
	}
}

static void
test_algorithm_zero(void)
{
	gsize size = 0;
	g_autofree guint8 *block = make_block(3, &size);

	for (guint r = 0; r < 3; r++) {
		g_autofree guint8 *copy = g_memdup2(block, size);

		ostick_store_le16(record(copy, r) + REC_OFF_ALG, 0);
		assert_parse_fails(copy, size, OSTICK_ERROR_FORMAT);
	}
}

typedef struct {
	const char *name;
	guint n;
	guint a, b;
	gboolean same_algorithm;
} DupRow;

static const DupRow dup_rows[] = {
	{"first-two", 2, 0, 1, FALSE},
	{"first-two-same-alg", 2, 0, 1, TRUE},
	{"first-last", 16, 0, 15, TRUE},
	{"middle", 16, 7, 9, FALSE},
	{"last-two", 16, 14, 15, FALSE},
};

static void
test_duplicate_key_id(gconstpointer data)
{
	const DupRow *row = data;
	g_autofree OstickSignature *sigs = make_sigs(row->n);
	g_autoptr(GBytes) bytes = NULL;
	gsize len = 0;
	const guint8 *buf;

	memcpy(sigs[row->b].key_id, sigs[row->a].key_id, OSTICK_KEY_ID_LEN);
	if (row->same_algorithm)
		sigs[row->b].algorithm = sigs[row->a].algorithm;
	bytes = ostick_sigblock_serialize(sigs, row->n);
	buf = g_bytes_get_data(bytes, &len);
	assert_parse_fails(buf, len, OSTICK_ERROR_FORMAT);
}

/* Key IDs differing in one last byte are distinct: the whole ID is compared. */
static void
test_key_ids_differ_in_last_byte(void)
{
	g_autofree OstickSignature *sigs = make_sigs(2);
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(GArray) parsed = NULL;
	gsize len = 0;
	const guint8 *buf;

	memcpy(sigs[1].key_id, sigs[0].key_id, OSTICK_KEY_ID_LEN);
	sigs[1].key_id[OSTICK_KEY_ID_LEN - 1] ^= 1;
	bytes = ostick_sigblock_serialize(sigs, 2);
	buf = g_bytes_get_data(bytes, &len);
	parsed = parse_ok(buf, len);
	assert_sigs_equal(parsed, sigs, 2);
}

/* Real signatures survive the block and still verify against the keyring. */
static void
test_real_signatures(void)
{
	static const guint8 msg[] = "manifest bytes";
	g_autoptr(EVP_PKEY) ed = testlib_load_private_key("test-ed25519.key.pem");
	g_autoptr(EVP_PKEY) p256 = testlib_load_private_key("test-p256.key.pem");
	g_autoptr(OstickKeyring) keyring =
		testlib_keyring("test-ed25519.pub.pem", "test-p256.pub.pem", NULL);
	g_autoptr(GError) error = NULL;
	OstickSignature sigs[2];
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(GArray) parsed = NULL;

	g_assert_true(ostick_sign(ed, msg, sizeof msg, &sigs[0], &error));
	g_assert_true(ostick_sign(p256, msg, sizeof msg, &sigs[1], &error));
	g_assert_no_error(error);
	bytes = ostick_sigblock_serialize(sigs, 2);
	parsed = parse_ok(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
	assert_sigs_equal(parsed, sigs, 2);
	g_assert_true(ostick_keyring_verify(keyring, &g_array_index(parsed, OstickSignature, 0),
		parsed->len, msg, sizeof msg, NULL, &error));
	g_assert_no_error(error);
}

#define ADD_ROWS(prefix, rows, func)                                                               \
	for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {                                           \
		g_autofree char *path = g_strdup_printf(prefix "/%s", rows[i].name);               \
		g_test_add_data_func(path, &rows[i], func);                                        \
	}

static void
add_per_count(const char *prefix, GTestDataFunc func)
{
	static const guint counts[] = {1, 2, 16};

	for (gsize i = 0; i < G_N_ELEMENTS(counts); i++) {
		g_autofree char *path = g_strdup_printf("%s/%u", prefix, counts[i]);

		g_test_add_data_func(path, GUINT_TO_POINTER(counts[i]), func);
	}
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	g_test_add_func("/sigblock/format/constants", test_constants);
	g_test_add_func("/sigblock/format/load-store", test_load_store);
	g_test_add_func("/sigblock/serialize/layout", test_layout);
	g_test_add_func(
		"/sigblock/serialize/count-out-of-range", test_serialize_count_out_of_range);
	add_per_count("/sigblock/roundtrip", test_roundtrip);
	g_test_add_func("/sigblock/roundtrip/unknown-algorithm", test_roundtrip_unknown_algorithm);
	g_test_add_func("/sigblock/roundtrip/real-signatures", test_real_signatures);
	add_per_count("/sigblock/parse/truncated", test_truncated);
	add_per_count("/sigblock/parse/header-byte", test_header_bytes);
	ADD_ROWS("/sigblock/parse/count", count_rows, test_count);
	g_test_add_func("/sigblock/parse/count/sixteen", test_count_max);
	add_per_count("/sigblock/parse/trailing", test_trailing);
	g_test_add_func("/sigblock/parse/reserved-nonzero", test_reserved);
	g_test_add_func("/sigblock/parse/algorithm-zero", test_algorithm_zero);
	ADD_ROWS("/sigblock/parse/duplicate-key-id", dup_rows, test_duplicate_key_id);
	g_test_add_func(
		"/sigblock/parse/key-ids-differ-in-last-byte", test_key_ids_differ_in_last_byte);
	return g_test_run();
}
