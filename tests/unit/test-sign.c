/* test-sign.c: key loading, key IDs, signing and verification, keygen, the keyring and the
 * acceptance rule of FORMAT.md §4.3, with the long-lived keys of tests/data/keys/. */
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "ostick-hash.h"
#include "ostick-sign.h"
#include "testlib.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/ui.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

/* Key IDs, computed once with the openssl CLI (OpenSSL 3.0):
 *   openssl pkey -pubin -in tests/data/keys/<name>.pub.pem -outform DER | sha256sum
 * and for the P-384 key, which has no .pub.pem:
 *   openssl pkey -in tests/data/keys/test-p384.key.pem -pubout -outform DER | sha256sum */
#define ED25519_ID "105c72ddc42308ee72e097a436c4246ce7cc1776185d4a54dee55671a780e351"
#define ED25519_2_ID "16da153892b1ed01532a96ee2d7bf8316805476b98b7c56c1a151d6f8e0a91ab"
#define P256_ID "db555bee45bc17ddcd63cdc3caa2f795269538c016ad5dc68bce9076561bd412"
#define RSA_ID "0e797fad7a354856deef57b00dc60c79945c8ca99c6ca077c0438ec88ef382ed"
#define P384_ID "0740f850b0fe00bc3792563233b3bc72d762384aa39a8f60b72b2e95cb41854b"

/* The Ed25519 signature of the 6 bytes "ostick" by test-ed25519, made with:
 *   printf ostick > msg; openssl pkeyutl -sign -inkey test-ed25519.key.pem -rawin -in msg | xxd -p
 */
#define OSTICK_ED25519_SIG                                                                         \
	"dfdc06ecca16d8477d2ac0be9730b779d26b4f726e6b65d03413d43d9f60344b"                         \
	"5fc8dfcbef600d282d2d719e435420b33502acbf7951f23e86366c04ce5e280a"

#define ED "test-ed25519.key.pem"
#define ED2 "test-ed25519-2.key.pem"
#define P256 "test-p256.key.pem"

static const guint8 message[] = "[bundle]\nformat=1\n# the manifest bytes under test\n";

/* OpenSSL prompts on the terminal for a passphrase when a caller gives no callback: a device
 * tool must never do that (it would hang an interactive run). Every prompt lands here instead,
 * is counted, and fails. */
static guint passphrase_prompts;

static int
count_prompt(UI *ui, UI_STRING *uis)
{
	passphrase_prompts++;
	return -1;
}

static void
install_prompt_guard(void)
{
	static UI_METHOD *method;

	method = UI_create_method("ostick-test-no-prompt");
	g_assert_nonnull(method);
	g_assert_cmpint(UI_method_set_reader(method, count_prompt), ==, 0);
	UI_set_default_method(method);
}

typedef struct {
	char *tmpdir;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->tmpdir = g_dir_make_tmp("sign-XXXXXX", &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ostick_rm_rf(f->tmpdir, &error));
	g_assert_no_error(error);
	g_free(f->tmpdir);
}

static char *
key_path(const char *name)
{
	g_autofree char *rel = g_build_filename("tests/data/keys", name, NULL);

	return testlib_src_path(rel);
}

static char *
key_text(const char *name)
{
	g_autofree char *path = key_path(name);
	g_autoptr(GError) error = NULL;
	char *contents = NULL;

	g_file_get_contents(path, &contents, NULL, &error);
	g_assert_no_error(error);
	return contents;
}

static char *
write_file(const char *dir, const char *name, const char *contents, gssize len)
{
	char *path = g_build_filename(dir, name, NULL);
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, contents, len, &error);
	g_assert_no_error(error);
	return path;
}

/* Writes the concatenation of the key files @first, ... to @dir/@name. */
static void write_keys(
	const char *dir, const char *name, const char *first, ...) G_GNUC_NULL_TERMINATED;
static void
write_keys(const char *dir, const char *name, const char *first, ...)
{
	g_autoptr(GString) all = g_string_new(NULL);
	va_list args;

	va_start(args, first);
	for (const char *key = first; key != NULL; key = va_arg(args, const char *)) {
		g_autofree char *text = key_text(key);

		g_string_append(all, text);
	}
	va_end(args);
	g_free(write_file(dir, name, all->str, (gssize)all->len));
}

static void
assert_key_id(EVP_PKEY *key, const char *expected_hex)
{
	g_autoptr(GError) error = NULL;
	guint8 id[OSTICK_KEY_ID_LEN];
	char hex[2 * OSTICK_KEY_ID_LEN + 1];

	g_assert_true(ostick_key_get_id(key, id, &error));
	g_assert_no_error(error);
	ostick_hex_encode(id, sizeof id, hex);
	g_assert_cmpstr(hex, ==, expected_hex);
}

static void
id_from_hex(const char *hex, guint8 out[OSTICK_KEY_ID_LEN])
{
	g_assert_true(ostick_hex_decode(hex, out, OSTICK_KEY_ID_LEN));
}

static void
sign_ok(const char *private_name, const guint8 *msg, gsize len, OstickSignature *out_sig)
{
	g_autoptr(EVP_PKEY) key = testlib_load_private_key(private_name);
	g_autoptr(GError) error = NULL;

	g_assert_true(ostick_sign(key, msg, len, out_sig, &error));
	g_assert_no_error(error);
}

/* ---- ostick_sig_algorithm_name ---- */

static void
test_algorithm_name(void)
{
	g_assert_cmpstr(ostick_sig_algorithm_name(OSTICK_SIG_ALG_ED25519), ==, "ed25519");
	g_assert_cmpstr(ostick_sig_algorithm_name(OSTICK_SIG_ALG_ECDSA_P256_SHA256), ==,
		"ecdsa-p256-sha256");
	g_assert_null(ostick_sig_algorithm_name(0));
	g_assert_null(ostick_sig_algorithm_name(3));
	g_assert_null(ostick_sig_algorithm_name(0xffff));
}

/* ---- ostick_key_load_private / ostick_key_load_public ---- */

typedef enum {
	LOAD_OK,
	LOAD_KEY, /* OSTICK_ERROR_KEY */
	LOAD_NOT_FOUND, /* G_IO_ERROR_NOT_FOUND */
} LoadResult;

typedef struct {
	const char *name;
	gboolean private_key;
	const char *file; /* in tests/data/keys/, or "@<kind>" made in the fixture's tmpdir */
	LoadResult result;
	OstickSigAlgorithm algorithm;
	const char *key_id;
	const char *message_part; /* optional: the error text must contain it */
} LoadRow;

static const LoadRow load_rows[] = {
	{"private/ed25519", TRUE, ED, LOAD_OK, OSTICK_SIG_ALG_ED25519, ED25519_ID},
	{"private/ed25519-2", TRUE, ED2, LOAD_OK, OSTICK_SIG_ALG_ED25519, ED25519_2_ID},
	{"private/p256", TRUE, P256, LOAD_OK, OSTICK_SIG_ALG_ECDSA_P256_SHA256, P256_ID},
	{"private/rsa", TRUE, "test-rsa.key.pem", LOAD_KEY},
	{"private/p384", TRUE, "test-p384.key.pem", LOAD_KEY},
	{"private/encrypted", TRUE, "test-encrypted.key.pem", LOAD_KEY, 0, NULL, "encrypted"},
	{"private/public-key-file", TRUE, "test-ed25519.pub.pem", LOAD_KEY},
	{"private/missing", TRUE, "no-such-key.key.pem", LOAD_NOT_FOUND},
	{"private/garbage", TRUE, "@garbage", LOAD_KEY},
	{"private/empty", TRUE, "@empty", LOAD_KEY},
	{"private/text", TRUE, "README.md", LOAD_KEY},
	{"private/truncated-pem", TRUE, "@truncated-private", LOAD_KEY},
	{"public/ed25519", FALSE, "test-ed25519.pub.pem", LOAD_OK, OSTICK_SIG_ALG_ED25519,
		ED25519_ID},
	{"public/ed25519-2", FALSE, "test-ed25519-2.pub.pem", LOAD_OK, OSTICK_SIG_ALG_ED25519,
		ED25519_2_ID},
	{"public/p256", FALSE, "test-p256.pub.pem", LOAD_OK, OSTICK_SIG_ALG_ECDSA_P256_SHA256,
		P256_ID},
	{"public/rsa", FALSE, "test-rsa.pub.pem", LOAD_KEY},
	{"public/private-key-file", FALSE, ED, LOAD_KEY},
	{"public/p384-private-key-file", FALSE, "test-p384.key.pem", LOAD_KEY},
	{"public/encrypted-private-key-file", FALSE, "test-encrypted.key.pem", LOAD_KEY},
	{"public/missing", FALSE, "no-such-key.pub.pem", LOAD_NOT_FOUND},
	{"public/garbage", FALSE, "@garbage", LOAD_KEY},
	{"public/empty", FALSE, "@empty", LOAD_KEY},
	{"public/text", FALSE, "README.md", LOAD_KEY},
};

/* Files that are not keys, made on the fly. */
static char *
make_bad_file(const char *dir, const char *kind)
{
	if (g_str_equal(kind, "@garbage")) {
		guint8 noise[512];

		for (gsize i = 0; i < sizeof noise; i++)
			noise[i] = (guint8)(i * 167 + 13);
		return write_file(dir, "garbage.pem", (const char *)noise, sizeof noise);
	}
	if (g_str_equal(kind, "@empty"))
		return write_file(dir, "empty.pem", "", 0);
	if (g_str_equal(kind, "@truncated-private")) {
		g_autofree char *text = key_text(P256);

		text[strlen(text) / 2] = '\0';
		return write_file(dir, "truncated.pem", text, -1);
	}
	g_assert_not_reached();
}

static EVP_PKEY *
load_key(const LoadRow *row, const char *path, GError **error)
{
	return row->private_key ? ostick_key_load_private(path, error)
				: ostick_key_load_public(path, error);
}

static void
assert_load_result(const LoadRow *row, EVP_PKEY *key, const GError *error)
{
	OstickSigAlgorithm algorithm = 0;
	g_autoptr(GError) local_error = NULL;

	switch (row->result) {
	case LOAD_OK:
		g_assert_no_error(error);
		g_assert_nonnull(key);
		g_assert_true(ostick_key_get_algorithm(key, &algorithm, &local_error));
		g_assert_cmpint(algorithm, ==, row->algorithm);
		assert_key_id(key, row->key_id);
		return;
	case LOAD_KEY:
		g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_KEY);
		break;
	case LOAD_NOT_FOUND:
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
		break;
	}
	g_assert_null(key);
	if (row->message_part != NULL)
		g_assert_nonnull(strstr(error->message, row->message_part));
}

static void
test_load(Fixture *f, gconstpointer data)
{
	const LoadRow *row = data;
	g_autoptr(GError) error = NULL;
	g_autofree char *path =
		row->file[0] == '@' ? make_bad_file(f->tmpdir, row->file) : key_path(row->file);
	g_autoptr(EVP_PKEY) key = NULL;

	passphrase_prompts = 0;
	key = load_key(row, path, &error);
	assert_load_result(row, key, error);
	g_assert_cmpuint(passphrase_prompts, ==, 0);
}

/* ---- ostick_key_get_id / ostick_key_get_algorithm on keys ostick would not load ---- */

static EVP_PKEY *
openssl_read_key(const char *name, gboolean private_key)
{
	g_autofree char *text = key_text(name);
	g_autoptr(BIO) bio = BIO_new_mem_buf(text, -1);
	EVP_PKEY *key = private_key ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
				    : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

	g_assert_nonnull(key);
	return key;
}

/* The ID is the SHA-256 of the DER SubjectPublicKeyInfo whatever the key type. */
static void
test_key_id_other_types(void)
{
	g_autoptr(EVP_PKEY) rsa_pub = openssl_read_key("test-rsa.pub.pem", FALSE);
	g_autoptr(EVP_PKEY) rsa_priv = openssl_read_key("test-rsa.key.pem", TRUE);
	g_autoptr(EVP_PKEY) p384 = openssl_read_key("test-p384.key.pem", TRUE);

	assert_key_id(rsa_pub, RSA_ID);
	assert_key_id(rsa_priv, RSA_ID);
	assert_key_id(p384, P384_ID);
}

static void
test_algorithm_refused(void)
{
	const char *names[] = {"test-rsa.key.pem", "test-p384.key.pem"};

	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autoptr(EVP_PKEY) key = openssl_read_key(names[i], TRUE);
		g_autoptr(GError) error = NULL;
		OstickSigAlgorithm algorithm = 0;

		g_assert_false(ostick_key_get_algorithm(key, &algorithm, &error));
		g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_KEY);
	}
}

/* Signing with a key type ostick does not support fails, and leaves the output alone. */
static void
test_sign_refused_type(void)
{
	g_autoptr(EVP_PKEY) key = openssl_read_key("test-rsa.key.pem", TRUE);
	g_autoptr(GError) error = NULL;
	OstickSignature sig;

	memset(&sig, 0xaa, sizeof sig);
	g_assert_false(ostick_sign(key, message, sizeof message, &sig, &error));
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_KEY);
	g_assert_cmpuint(((guint8 *)&sig)[0], ==, 0xaa);
}

/* ---- ostick_sign / ostick_signature_verify ---- */

typedef struct {
	const char *name;
	const char *private_file;
	const char *public_file;
	OstickSigAlgorithm algorithm;
	const char *key_id;
} SignRow;

static const SignRow sign_rows[] = {
	{"ed25519", ED, "test-ed25519.pub.pem", OSTICK_SIG_ALG_ED25519, ED25519_ID},
	{"p256", P256, "test-p256.pub.pem", OSTICK_SIG_ALG_ECDSA_P256_SHA256, P256_ID},
};

static void
verify_expect(const char *public_file, const OstickSignature *sig, const guint8 *msg, gsize len,
	gboolean ok)
{
	g_autoptr(EVP_PKEY) pub = testlib_load_public_key(public_file);
	g_autoptr(GError) error = NULL;

	if (ok) {
		g_assert_true(ostick_signature_verify(pub, sig, msg, len, &error));
		g_assert_no_error(error);
	} else {
		g_assert_false(ostick_signature_verify(pub, sig, msg, len, &error));
		g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_SIGNATURE);
	}
}

static void
test_sign_roundtrip(gconstpointer data)
{
	const SignRow *row = data;
	OstickSignature sig;
	guint8 id[OSTICK_KEY_ID_LEN];

	sign_ok(row->private_file, message, sizeof message, &sig);
	g_assert_cmpint(sig.algorithm, ==, row->algorithm);
	id_from_hex(row->key_id, id);
	g_assert_cmpmem(sig.key_id, sizeof sig.key_id, id, sizeof id);
	verify_expect(row->public_file, &sig, message, sizeof message, TRUE);
	/* The empty message is a message too. */
	sign_ok(row->private_file, (const guint8 *)"", 0, &sig);
	verify_expect(row->public_file, &sig, (const guint8 *)"", 0, TRUE);
	verify_expect(row->public_file, &sig, message, sizeof message, FALSE);
}

static void
test_sign_flipped_message_bit(gconstpointer data)
{
	const SignRow *row = data;
	guint8 msg[32];
	OstickSignature sig;

	memcpy(msg, message, sizeof msg);
	sign_ok(row->private_file, msg, sizeof msg, &sig);
	for (gsize bit = 0; bit < 8 * sizeof msg; bit++) {
		msg[bit / 8] ^= (guint8)(1 << (bit % 8));
		verify_expect(row->public_file, &sig, msg, sizeof msg, FALSE);
		msg[bit / 8] ^= (guint8)(1 << (bit % 8));
	}
	verify_expect(row->public_file, &sig, msg, sizeof msg, TRUE);
	verify_expect(row->public_file, &sig, msg, sizeof msg - 1, FALSE);
}

static void
test_sign_flipped_signature_bit(gconstpointer data)
{
	const SignRow *row = data;
	OstickSignature sig;

	sign_ok(row->private_file, message, sizeof message, &sig);
	for (gsize bit = 0; bit < 8 * sizeof sig.value; bit++) {
		OstickSignature bad = sig;

		bad.value[bit / 8] ^= (guint8)(1 << (bit % 8));
		verify_expect(row->public_file, &bad, message, sizeof message, FALSE);
	}
	verify_expect(row->public_file, &sig, message, sizeof message, TRUE);
}

/* Ed25519 is deterministic (RFC 8032): same key and message, same bytes; and they are the bytes
 * the openssl CLI makes, so the signature is over the raw message. */
static void
test_sign_ed25519_deterministic(void)
{
	OstickSignature a, b;
	guint8 expected[OSTICK_SIG_VALUE_LEN];

	sign_ok(ED, (const guint8 *)"ostick", 6, &a);
	sign_ok(ED, (const guint8 *)"ostick", 6, &b);
	g_assert_cmpmem(&a, sizeof a, &b, sizeof b);
	g_assert_true(ostick_hex_decode(OSTICK_ED25519_SIG, expected, sizeof expected));
	g_assert_cmpmem(a.value, sizeof a.value, expected, sizeof expected);
}

/* P-256 values are IEEE P1363 r||s of ECDSA with SHA-256: OpenSSL verifies them on its own. */
static void
test_sign_p256_format(void)
{
	g_autoptr(EVP_PKEY) pub = testlib_load_public_key("test-p256.pub.pem");
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	g_autoptr(ECDSA_SIG) ecdsa = ECDSA_SIG_new();
	unsigned char *der = NULL;
	OstickSignature sig;
	int der_len;

	sign_ok(P256, message, sizeof message, &sig);
	g_assert_cmpint(ECDSA_SIG_set0(ecdsa, BN_bin2bn(sig.value, 32, NULL),
				BN_bin2bn(sig.value + 32, 32, NULL)),
		==, 1);
	der_len = i2d_ECDSA_SIG(ecdsa, &der);
	g_assert_cmpint(der_len, >, 0);
	g_assert_cmpint(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub), ==, 1);
	g_assert_cmpint(
		EVP_DigestVerify(ctx, der, (size_t)der_len, message, sizeof message), ==, 1);
	OPENSSL_free(der);
}

typedef struct {
	const char *name;
	const char *signer;
	guint algorithm; /* put in the signature instead of the signer's */
	const char *verifier;
} MismatchRow;

static const MismatchRow mismatch_rows[] = {
	{"ed25519-marked-p256", ED, OSTICK_SIG_ALG_ECDSA_P256_SHA256, "test-ed25519.pub.pem"},
	{"p256-marked-ed25519", P256, OSTICK_SIG_ALG_ED25519, "test-p256.pub.pem"},
	{"ed25519-marked-unknown", ED, 7, "test-ed25519.pub.pem"},
	{"p256-marked-unknown", P256, 0xffff, "test-p256.pub.pem"},
	{"ed25519-by-p256-key", ED, 0, "test-p256.pub.pem"},
	{"p256-by-ed25519-key", P256, 0, "test-ed25519.pub.pem"},
	{"ed25519-by-other-ed25519", ED, 0, "test-ed25519-2.pub.pem"},
};

static void
test_verify_mismatch(gconstpointer data)
{
	const MismatchRow *row = data;
	OstickSignature sig;

	sign_ok(row->signer, message, sizeof message, &sig);
	if (row->algorithm != 0)
		sig.algorithm = row->algorithm;
	verify_expect(row->verifier, &sig, message, sizeof message, FALSE);
}

/* ECDSA values outside the group order never verify (nor crash the DER conversion). */
static void
test_verify_p256_degenerate(void)
{
	static const guint8 fills[] = {0x00, 0xff};

	for (gsize i = 0; i < G_N_ELEMENTS(fills); i++) {
		OstickSignature sig = {.algorithm = OSTICK_SIG_ALG_ECDSA_P256_SHA256};

		memset(sig.value, fills[i], sizeof sig.value);
		id_from_hex(P256_ID, sig.key_id);
		verify_expect("test-p256.pub.pem", &sig, message, sizeof message, FALSE);
	}
}

/* ---- ostick_keygen ---- */

static void
assert_mode(const char *path, guint mode)
{
	struct stat st;

	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(st.st_mode & 07777, ==, mode);
}

static void
assert_file_starts(const char *path, const char *prefix)
{
	g_autofree char *contents = NULL;

	g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
	g_assert_true(g_str_has_prefix(contents, prefix));
}

static void
assert_pair_works(const char *private_path, const char *public_path, OstickSigAlgorithm algorithm)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) priv = ostick_key_load_private(private_path, &error);
	g_autoptr(EVP_PKEY) pub = ostick_key_load_public(public_path, &error);
	guint8 priv_id[OSTICK_KEY_ID_LEN], pub_id[OSTICK_KEY_ID_LEN];
	OstickSignature sig;

	g_assert_no_error(error);
	g_assert_true(ostick_key_get_id(priv, priv_id, &error));
	g_assert_true(ostick_key_get_id(pub, pub_id, &error));
	g_assert_cmpmem(priv_id, sizeof priv_id, pub_id, sizeof pub_id);
	g_assert_true(ostick_sign(priv, message, sizeof message, &sig, &error));
	g_assert_cmpint(sig.algorithm, ==, algorithm);
	g_assert_true(ostick_signature_verify(pub, &sig, message, sizeof message, &error));
	g_assert_no_error(error);
}

typedef struct {
	const char *name;
	OstickSigAlgorithm algorithm;
	mode_t umask;
} KeygenRow;

static const KeygenRow keygen_rows[] = {
	{"ed25519", OSTICK_SIG_ALG_ED25519, 022},
	{"ed25519-umask-0", OSTICK_SIG_ALG_ED25519, 0},
	{"p256", OSTICK_SIG_ALG_ECDSA_P256_SHA256, 022},
	{"p256-umask-077", OSTICK_SIG_ALG_ECDSA_P256_SHA256, 077},
};

static void
test_keygen(Fixture *f, gconstpointer data)
{
	const KeygenRow *row = data;
	g_autoptr(GError) error = NULL;
	g_autofree char *priv = g_build_filename(f->tmpdir, "k.key.pem", NULL);
	g_autofree char *pub = g_build_filename(f->tmpdir, "k.pub.pem", NULL);
	mode_t old = umask(row->umask);
	gboolean ok = ostick_keygen(row->algorithm, priv, pub, &error);
	struct stat st;

	umask(old);
	g_assert_no_error(error);
	g_assert_true(ok);
	assert_mode(priv, 0600);
	g_assert_cmpint(g_stat(pub, &st), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(st.st_mode & 0400, ==, 0400);
	g_assert_cmpuint(st.st_mode & 0022, ==, 0); /* nobody else may swap the key */
	assert_file_starts(priv, "-----BEGIN PRIVATE KEY-----\n"); /* PKCS#8, unencrypted */
	assert_file_starts(pub, "-----BEGIN PUBLIC KEY-----\n");
	assert_pair_works(priv, pub, row->algorithm);
}

/* Each call makes a new key. */
static void
test_keygen_fresh(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *pub1 = g_build_filename(f->tmpdir, "1.pub.pem", NULL);
	g_autofree char *pub2 = g_build_filename(f->tmpdir, "2.pub.pem", NULL);
	g_autofree char *priv1 = g_build_filename(f->tmpdir, "1.key.pem", NULL);
	g_autofree char *priv2 = g_build_filename(f->tmpdir, "2.key.pem", NULL);
	g_autofree char *text1 = NULL;
	g_autofree char *text2 = NULL;

	g_assert_true(ostick_keygen(OSTICK_SIG_ALG_ED25519, priv1, pub1, &error));
	g_assert_true(ostick_keygen(OSTICK_SIG_ALG_ED25519, priv2, pub2, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(pub1, &text1, NULL, NULL));
	g_assert_true(g_file_get_contents(pub2, &text2, NULL, NULL));
	g_assert_cmpstr(text1, !=, text2);
}

static void
assert_absent(const char *path)
{
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

static void
assert_contents(const char *path, const char *expected)
{
	g_autofree char *contents = NULL;

	g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
	g_assert_cmpstr(contents, ==, expected);
}

static void
test_keygen_private_exists(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *priv = write_file(f->tmpdir, "k.key.pem", "keep me\n", -1);
	g_autofree char *pub = g_build_filename(f->tmpdir, "k.pub.pem", NULL);

	g_assert_false(ostick_keygen(OSTICK_SIG_ALG_ED25519, priv, pub, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
	assert_contents(priv, "keep me\n");
	assert_absent(pub);
}

static void
test_keygen_public_exists(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *priv = g_build_filename(f->tmpdir, "k.key.pem", NULL);
	g_autofree char *pub = write_file(f->tmpdir, "k.pub.pem", "keep me\n", -1);

	g_assert_false(ostick_keygen(OSTICK_SIG_ALG_ECDSA_P256_SHA256, priv, pub, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
	assert_contents(pub, "keep me\n");
	assert_absent(priv);
}

/* Both outputs at one path: the second write finds the first, and nothing stays behind. */
static void
test_keygen_same_path(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = g_build_filename(f->tmpdir, "k.pem", NULL);

	g_assert_false(ostick_keygen(OSTICK_SIG_ALG_ED25519, path, path, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
	assert_absent(path);
}

/* The public key cannot be written: the private key already written is removed again. */
static void
test_keygen_public_unwritable(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *priv = g_build_filename(f->tmpdir, "k.key.pem", NULL);
	g_autofree char *pub = g_build_filename(f->tmpdir, "missing", "k.pub.pem", NULL);

	g_assert_false(ostick_keygen(OSTICK_SIG_ALG_ED25519, priv, pub, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	assert_absent(priv);
	assert_absent(pub);
}

static void
test_keygen_private_unwritable(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *priv = g_build_filename(f->tmpdir, "missing", "k.key.pem", NULL);
	g_autofree char *pub = g_build_filename(f->tmpdir, "k.pub.pem", NULL);

	g_assert_false(ostick_keygen(OSTICK_SIG_ALG_ED25519, priv, pub, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	assert_absent(pub);
}

static void
test_keygen_unknown_algorithm(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *priv = g_build_filename(f->tmpdir, "k.key.pem", NULL);
	g_autofree char *pub = g_build_filename(f->tmpdir, "k.pub.pem", NULL);

	g_assert_false(ostick_keygen(3, priv, pub, &error));
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_KEY);
	assert_absent(priv);
	assert_absent(pub);
}

/* ---- ostick_keyring_load ---- */

static OstickKeyring *
keyring_load_ok(const char *path)
{
	g_autoptr(GError) error = NULL;
	OstickKeyring *keyring = ostick_keyring_load(path, &error);

	g_assert_no_error(error);
	g_assert_nonnull(keyring);
	return keyring;
}

static gboolean
keyring_has(const OstickKeyring *keyring, const char *hex)
{
	guint8 id[OSTICK_KEY_ID_LEN];

	id_from_hex(hex, id);
	return ostick_keyring_lookup(keyring, id) != NULL;
}

/* The error of a keyring check over one signature by @signer. */
static GError *
keyring_verify_error(const OstickKeyring *keyring, const char *signer)
{
	GError *error = NULL;
	OstickSignature sig;

	sign_ok(signer, message, sizeof message, &sig);
	g_assert_false(
		ostick_keyring_verify(keyring, &sig, 1, message, sizeof message, NULL, &error));
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_SIGNATURE);
	return error;
}

static void
test_keyring_dir(Fixture *f, gconstpointer data)
{
	g_autoptr(OstickKeyring) keyring = NULL;

	write_keys(f->tmpdir, "a.pem", "test-ed25519.pub.pem", NULL);
	write_keys(f->tmpdir, "b.pub", "test-ed25519-2.pub.pem", NULL);
	/* Other names are not keyring files, whatever they hold. */
	write_keys(f->tmpdir, "c.txt", "test-p256.pub.pem", NULL);
	write_keys(f->tmpdir, "d.pem.bak", "test-p256.pub.pem", NULL);
	write_keys(f->tmpdir, "e.pem~", "test-p256.pub.pem", NULL);
	write_keys(f->tmpdir, "fpem", "test-p256.pub.pem", NULL);
	keyring = keyring_load_ok(f->tmpdir);
	g_assert_cmpuint(ostick_keyring_get_size(keyring), ==, 2);
	g_assert_true(keyring_has(keyring, ED25519_ID));
	g_assert_true(keyring_has(keyring, ED25519_2_ID));
	g_assert_false(keyring_has(keyring, P256_ID));
}

static void
test_keyring_dotfiles(Fixture *f, gconstpointer data)
{
	g_autoptr(OstickKeyring) keyring = NULL;

	write_keys(f->tmpdir, ".hidden.pem", "test-p256.pub.pem", NULL);
	write_keys(f->tmpdir, ".pub", "test-ed25519-2.pub.pem", NULL);
	write_keys(f->tmpdir, ".a.pem.swp", "test-ed25519-2.pub.pem", NULL);
	write_keys(f->tmpdir, "visible.pem", "test-ed25519.pub.pem", NULL);
	keyring = keyring_load_ok(f->tmpdir);
	g_assert_cmpuint(ostick_keyring_get_size(keyring), ==, 1);
	g_assert_true(keyring_has(keyring, ED25519_ID));
}

static void
test_keyring_two_keys_in_file(Fixture *f, gconstpointer data)
{
	g_autoptr(OstickKeyring) keyring = NULL;

	write_keys(f->tmpdir, "both.pem", "test-ed25519.pub.pem", "test-p256.pub.pem", NULL);
	keyring = keyring_load_ok(f->tmpdir);
	g_assert_cmpuint(ostick_keyring_get_size(keyring), ==, 2);
	g_assert_true(keyring_has(keyring, ED25519_ID));
	g_assert_true(keyring_has(keyring, P256_ID));
}

/* One key in two files is one key. */
static void
test_keyring_same_key_twice(Fixture *f, gconstpointer data)
{
	g_autoptr(OstickKeyring) keyring = NULL;

	write_keys(f->tmpdir, "a.pem", "test-ed25519.pub.pem", NULL);
	write_keys(f->tmpdir, "b.pub", "test-ed25519.pub.pem", NULL);
	keyring = keyring_load_ok(f->tmpdir);
	g_assert_cmpuint(ostick_keyring_get_size(keyring), ==, 1);
}

/* A broken file does not hide the good ones, and is named when nothing verifies. */
static void
test_keyring_broken_file(Fixture *f, gconstpointer data)
{
	g_autoptr(OstickKeyring) keyring = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *broken = write_file(f->tmpdir, "broken.pem", "not a key\n", -1);
	OstickSignature sig;

	write_keys(f->tmpdir, "good.pem", "test-ed25519-2.pub.pem", NULL);
	keyring = keyring_load_ok(f->tmpdir);
	g_assert_cmpuint(ostick_keyring_get_size(keyring), ==, 1);
	g_assert_true(keyring_has(keyring, ED25519_2_ID));
	sign_ok(ED2, message, sizeof message, &sig);
	g_assert_true(
		ostick_keyring_verify(keyring, &sig, 1, message, sizeof message, NULL, &error));
	g_assert_no_error(error);
	error = keyring_verify_error(keyring, ED);
	g_assert_nonnull(strstr(error->message, "broken.pem"));
}

typedef struct {
	const char *name;
	const char *key_file; /* in tests/data/keys/, copied into the keyring as bad.pem */
} SkippedRow;

static const SkippedRow skipped_rows[] = {
	{"private-key", ED},
	{"rsa-public-key", "test-rsa.pub.pem"},
	{"encrypted-private-key", "test-encrypted.key.pem"},
	{"p384-private-key", "test-p384.key.pem"},
};

/* Files without a usable public key are skipped: a private key never becomes trusted. */
static void
test_keyring_skipped(Fixture *f, gconstpointer data)
{
	const SkippedRow *row = data;
	g_autoptr(OstickKeyring) keyring = NULL;
	g_autoptr(GError) error = NULL;

	write_keys(f->tmpdir, "bad.pem", row->key_file, NULL);
	write_keys(f->tmpdir, "good.pub", "test-p256.pub.pem", NULL);
	passphrase_prompts = 0;
	keyring = keyring_load_ok(f->tmpdir);
	g_assert_cmpuint(passphrase_prompts, ==, 0);
	g_assert_cmpuint(ostick_keyring_get_size(keyring), ==, 1);
	g_assert_true(keyring_has(keyring, P256_ID));
	error = keyring_verify_error(keyring, ED);
	g_assert_nonnull(strstr(error->message, "bad.pem"));
}

static void
test_keyring_single_file(Fixture *f, gconstpointer data)
{
	g_autofree char *path = key_path("test-ed25519.pub.pem");
	g_autoptr(OstickKeyring) keyring = keyring_load_ok(path);
	g_autoptr(GError) error = NULL;
	OstickSignature sig;

	g_assert_cmpuint(ostick_keyring_get_size(keyring), ==, 1);
	g_assert_true(keyring_has(keyring, ED25519_ID));
	sign_ok(ED, message, sizeof message, &sig);
	g_assert_true(
		ostick_keyring_verify(keyring, &sig, 1, message, sizeof message, NULL, &error));
	g_assert_no_error(error);
}

/* A single file is taken whatever its name, and may hold several keys. */
static void
test_keyring_single_file_two_keys(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->tmpdir, "trusted-keys", NULL);
	g_autoptr(OstickKeyring) keyring = NULL;

	write_keys(f->tmpdir, "trusted-keys", "test-p256.pub.pem", "test-ed25519-2.pub.pem", NULL);
	keyring = keyring_load_ok(path);
	g_assert_cmpuint(ostick_keyring_get_size(keyring), ==, 2);
	g_assert_true(keyring_has(keyring, P256_ID));
	g_assert_true(keyring_has(keyring, ED25519_2_ID));
}

static void
test_keyring_missing(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->tmpdir, "no-such-keyring", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OstickKeyring) keyring = ostick_keyring_load(path, &error);

	g_assert_null(keyring);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
test_keyring_empty(Fixture *f, gconstpointer data)
{
	g_autoptr(OstickKeyring) keyring = keyring_load_ok(f->tmpdir);
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(ostick_keyring_get_size(keyring), ==, 0);
	error = keyring_verify_error(keyring, ED);
}

/* ---- ostick_keyring_verify: FORMAT.md §4.3 ---- */

typedef struct {
	const char *signer; /* private key file */
	guint algorithm; /* 0: the signer's own */
	const char *key_id; /* NULL: the signer's own */
	gboolean corrupt; /* flip a bit of the value */
} SigSpec;

typedef struct {
	const char *name;
	guint n_sigs;
	SigSpec sigs[3];
	gboolean accepted;
	const char *key_ids[3]; /* out_key_ids when accepted, in order */
	const char *message_part;
} VerifyRow;

/* The keyring trusts test-ed25519 and test-p256; test-ed25519-2 is unknown to it. */
static const VerifyRow verify_rows[] = {
	{"zero-signatures", 0, {}, FALSE, {}, "not signed"},
	{"only-untrusted", 1, {{ED2}}, FALSE, {}, "does not trust"},
	{"two-untrusted", 2, {{ED2}, {ED2, 0, RSA_ID}}, FALSE},
	{"trusted-then-untrusted", 2, {{ED}, {ED2}}, TRUE, {ED25519_ID}},
	{"untrusted-then-trusted", 2, {{ED2}, {ED}}, TRUE, {ED25519_ID}},
	{"both-trusted", 2, {{ED}, {P256}}, TRUE, {ED25519_ID, P256_ID}},
	{"both-trusted-reversed", 2, {{P256}, {ED}}, TRUE, {P256_ID, ED25519_ID}},
	{"two-trusted-one-untrusted", 3, {{P256}, {ED2}, {ED}}, TRUE, {P256_ID, ED25519_ID}},
	{"trusted-invalid", 1, {{ED, 0, NULL, TRUE}}, FALSE},
	{"trusted-invalid-then-valid", 2, {{P256, 0, NULL, TRUE}, {ED}}, FALSE},
	{"trusted-valid-then-invalid", 2, {{ED}, {P256, 0, NULL, TRUE}}, FALSE},
	{"untrusted-invalid-ignored", 2, {{ED2, 0, NULL, TRUE}, {ED}}, TRUE, {ED25519_ID}},
	{"unknown-alg-untrusted-skipped", 2, {{ED2, 99}, {ED}}, TRUE, {ED25519_ID}},
	{"unknown-alg-trusted-skipped", 2, {{ED, 99}, {P256}}, TRUE, {P256_ID}},
	{"unknown-alg-trusted-alone", 1, {{ED, 0xffff}}, FALSE},
	{"unknown-alg-untrusted-alone", 1, {{ED2, 3}}, FALSE},
	{"known-alg-wrong-for-trusted-key", 2, {{ED, 2}, {P256}}, FALSE},
	{"claims-other-trusted-key", 2, {{ED, 0, P256_ID}, {ED}}, FALSE},
	{"untrusted-key-claims-trusted-id", 1, {{ED2, 0, ED25519_ID}}, FALSE},
};

static void
make_sig(const SigSpec *spec, OstickSignature *out_sig)
{
	sign_ok(spec->signer, message, sizeof message, out_sig);
	if (spec->algorithm != 0)
		out_sig->algorithm = spec->algorithm;
	if (spec->key_id != NULL)
		id_from_hex(spec->key_id, out_sig->key_id);
	if (spec->corrupt)
		out_sig->value[10] ^= 0x04;
}

static void
assert_key_ids(GStrv ids, const char *const *expected)
{
	guint n = 0;

	while (n < 3 && expected[n] != NULL)
		n++;
	g_assert_nonnull(ids);
	g_assert_cmpuint(g_strv_length(ids), ==, n);
	for (guint i = 0; i < n; i++)
		g_assert_cmpstr(ids[i], ==, expected[i]);
}

static void
test_keyring_verify(gconstpointer data)
{
	const VerifyRow *row = data;
	g_autoptr(OstickKeyring) keyring =
		testlib_keyring("test-ed25519.pub.pem", "test-p256.pub.pem", NULL);
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) ids = NULL;
	OstickSignature sigs[3];
	gboolean ok;

	for (guint i = 0; i < row->n_sigs; i++)
		make_sig(&row->sigs[i], &sigs[i]);
	ok = ostick_keyring_verify(
		keyring, sigs, row->n_sigs, message, sizeof message, &ids, &error);
	if (row->accepted) {
		g_assert_no_error(error);
		g_assert_true(ok);
		assert_key_ids(ids, row->key_ids);
		return;
	}
	g_assert_false(ok);
	g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_SIGNATURE);
	g_assert_null(ids);
	if (row->message_part != NULL)
		g_assert_nonnull(strstr(error->message, row->message_part));
}

/* A message changed after signing fails, whoever signed it. */
static void
test_keyring_verify_tampered(void)
{
	g_autoptr(OstickKeyring) keyring =
		testlib_keyring("test-ed25519.pub.pem", "test-p256.pub.pem", NULL);
	g_autoptr(GError) error = NULL;
	guint8 msg[sizeof message];
	OstickSignature sigs[2];

	sign_ok(ED, message, sizeof message, &sigs[0]);
	sign_ok(P256, message, sizeof message, &sigs[1]);
	memcpy(msg, message, sizeof msg);
	msg[0] ^= 0x20;
	for (guint n = 1; n <= 2; n++) {
		g_clear_error(&error);
		g_assert_false(
			ostick_keyring_verify(keyring, sigs, n, msg, sizeof msg, NULL, &error));
		g_assert_error(error, OSTICK_ERROR, OSTICK_ERROR_SIGNATURE);
	}
}

/* The key IDs are optional output. */
static void
test_keyring_verify_no_ids(void)
{
	g_autoptr(OstickKeyring) keyring = testlib_keyring("test-p256.pub.pem", NULL);
	g_autoptr(GError) error = NULL;
	OstickSignature sig;

	sign_ok(P256, message, sizeof message, &sig);
	g_assert_true(
		ostick_keyring_verify(keyring, &sig, 1, message, sizeof message, NULL, &error));
	g_assert_no_error(error);
}

#define ADD_ROWS(prefix, rows, func)                                                               \
	for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {                                           \
		g_autofree char *path = g_strdup_printf(prefix "/%s", rows[i].name);               \
		g_test_add_data_func(path, &rows[i], func);                                        \
	}

#define ADD_FIXTURE_ROWS(prefix, rows, func)                                                       \
	for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {                                           \
		g_autofree char *path = g_strdup_printf(prefix "/%s", rows[i].name);               \
		g_test_add(path, Fixture, &rows[i], fixture_setup, func, fixture_teardown);        \
	}

#define ADD_FIXTURE(path, func)                                                                    \
	g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)

static void
add_key_tests(void)
{
	g_test_add_func("/sign/sig_algorithm_name", test_algorithm_name);
	ADD_FIXTURE_ROWS("/sign/key_load", load_rows, test_load);
	g_test_add_func("/sign/key_get_id/other-types", test_key_id_other_types);
	g_test_add_func("/sign/key_get_algorithm/refused", test_algorithm_refused);
	g_test_add_func("/sign/sign/refused-type", test_sign_refused_type);
	ADD_ROWS("/sign/sign/roundtrip", sign_rows, test_sign_roundtrip);
	ADD_ROWS("/sign/signature_verify/flipped-message-bit", sign_rows,
		test_sign_flipped_message_bit);
	ADD_ROWS("/sign/signature_verify/flipped-signature-bit", sign_rows,
		test_sign_flipped_signature_bit);
	g_test_add_func("/sign/sign/ed25519-deterministic", test_sign_ed25519_deterministic);
	g_test_add_func("/sign/sign/p256-p1363-sha256", test_sign_p256_format);
	ADD_ROWS("/sign/signature_verify/mismatch", mismatch_rows, test_verify_mismatch);
	g_test_add_func("/sign/signature_verify/p256-degenerate", test_verify_p256_degenerate);
}

static void
add_keygen_tests(void)
{
	ADD_FIXTURE_ROWS("/sign/keygen/ok", keygen_rows, test_keygen);
	ADD_FIXTURE("/sign/keygen/fresh-key", test_keygen_fresh);
	ADD_FIXTURE("/sign/keygen/private-exists", test_keygen_private_exists);
	ADD_FIXTURE("/sign/keygen/public-exists", test_keygen_public_exists);
	ADD_FIXTURE("/sign/keygen/same-path", test_keygen_same_path);
	ADD_FIXTURE("/sign/keygen/public-unwritable", test_keygen_public_unwritable);
	ADD_FIXTURE("/sign/keygen/private-unwritable", test_keygen_private_unwritable);
	ADD_FIXTURE("/sign/keygen/unknown-algorithm", test_keygen_unknown_algorithm);
}

static void
add_keyring_tests(void)
{
	ADD_FIXTURE("/sign/keyring_load/dir", test_keyring_dir);
	ADD_FIXTURE("/sign/keyring_load/dotfiles", test_keyring_dotfiles);
	ADD_FIXTURE("/sign/keyring_load/two-keys-in-file", test_keyring_two_keys_in_file);
	ADD_FIXTURE("/sign/keyring_load/same-key-twice", test_keyring_same_key_twice);
	ADD_FIXTURE("/sign/keyring_load/broken-file", test_keyring_broken_file);
	ADD_FIXTURE_ROWS("/sign/keyring_load/skipped", skipped_rows, test_keyring_skipped);
	ADD_FIXTURE("/sign/keyring_load/single-file", test_keyring_single_file);
	ADD_FIXTURE("/sign/keyring_load/single-file-two-keys", test_keyring_single_file_two_keys);
	ADD_FIXTURE("/sign/keyring_load/missing", test_keyring_missing);
	ADD_FIXTURE("/sign/keyring_load/empty-dir", test_keyring_empty);
	ADD_ROWS("/sign/keyring_verify", verify_rows, test_keyring_verify);
	g_test_add_func("/sign/keyring_verify/tampered-message", test_keyring_verify_tampered);
	g_test_add_func("/sign/keyring_verify/no-out-key-ids", test_keyring_verify_no_ids);
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	install_prompt_guard();
	add_key_tests();
	add_keygen_tests();
	add_keyring_tests();
	return g_test_run();
}
