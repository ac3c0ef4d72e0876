/* ostick-sign.c: Ed25519 / ECDSA P-256 signatures with OpenSSL 3, and the keyring. */
#include "ostick-sign.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-hash.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>

#define P256_SCALAR_LEN 32

struct _OstickKeyring {
	char *path;
	GHashTable *keys; /* hex key ID -> EVP_PKEY (owned) */
	GString *skipped; /* "name: reason; ..." for messages */
};

const char *
ostick_sig_algorithm_name(guint algorithm)
{
	switch (algorithm) {
	case OSTICK_SIG_ALG_ED25519:
		return "ed25519";
	case OSTICK_SIG_ALG_ECDSA_P256_SHA256:
		return "ecdsa-p256-sha256";
	default:
		return NULL;
	}
}

/* The most recent OpenSSL error as text (and the queue cleared), for messages. */
static char *
openssl_error_text(void)
{
	unsigned long code = ERR_peek_last_error();
	char buf[256];

	ERR_clear_error();
	if (code == 0)
		return g_strdup("unknown OpenSSL error");
	ERR_error_string_n(code, buf, sizeof buf);
	return g_strdup(buf);
}

/* Refuses to prompt for a passphrase: keys must be unencrypted (or come from an HSM later). */
static int
no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	*(gboolean *)u = TRUE;
	return -1;
}

static gboolean
read_file_bytes(const char *path, GBytes **out_bytes, GError **error)
{
	g_autofree char *contents = NULL;
	gsize len = 0;

	g_autoptr(GError) file_error = NULL;

	/* G_IO_ERROR like every other syscall failure (ostick-error.h). */
	if (!g_file_get_contents(path, &contents, &len, &file_error)) {
		g_set_error_literal(error, G_IO_ERROR, g_io_error_from_file_error(file_error->code),
			file_error->message);
		return FALSE;
	}
	*out_bytes = g_bytes_new_take(g_steal_pointer(&contents), len);
	return TRUE;
}

gboolean
ostick_key_get_algorithm(EVP_PKEY *key, OstickSigAlgorithm *out_algorithm, GError **error)
{
	char group[64] = "";

	g_return_val_if_fail(key != NULL, FALSE);
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
		*out_algorithm = OSTICK_SIG_ALG_ED25519;
		return TRUE;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(key, group, sizeof group, NULL) == 1 &&
			(strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)) {
			*out_algorithm = OSTICK_SIG_ALG_ECDSA_P256_SHA256;
			return TRUE;
		}
		return ostick_throw(error, OSTICK_ERROR_KEY,
			"EC key on curve %s is not supported (use P-256 or Ed25519)",
			group[0] ? group : "(unknown)");
	default:
		return ostick_throw(error, OSTICK_ERROR_KEY,
			"%s keys are not supported (use Ed25519 or ECDSA P-256)",
			EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "these");
	}
}

EVP_PKEY *
ostick_key_load_private(const char *path, GError **error)
{
	g_autoptr(GBytes) pem = NULL;
	g_autoptr(BIO) bio = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	gboolean wanted_passphrase = FALSE;
	OstickSigAlgorithm algorithm;

	g_return_val_if_fail(path != NULL, NULL);
	if (!read_file_bytes(path, &pem, error))
		return NULL;
	bio = BIO_new_mem_buf(g_bytes_get_data(pem, NULL), (int)g_bytes_get_size(pem));
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, &wanted_passphrase);
	if (key == NULL) {
		g_autofree char *why = openssl_error_text();

		if (wanted_passphrase)
			ostick_throw(error, OSTICK_ERROR_KEY,
				"%s: encrypted private keys are not supported", path);
		else
			ostick_throw(error, OSTICK_ERROR_KEY, "%s: not a PEM private key (%s)",
				path, why);
		return NULL;
	}
	if (!ostick_key_get_algorithm(key, &algorithm, error)) {
		g_prefix_error(error, "%s: ", path);
		return NULL;
	}
	return g_steal_pointer(&key);
}

/* Parses every PUBLIC KEY block of @pem into @out (EVP_PKEY, owned). */
static gboolean
parse_public_keys(GBytes *pem, GPtrArray *out, GError **error)
{
	g_autoptr(BIO) bio =
		BIO_new_mem_buf(g_bytes_get_data(pem, NULL), (int)g_bytes_get_size(pem));

	gboolean wanted_passphrase = FALSE;

	for (;;) {
		/* Without a callback OpenSSL would prompt on the terminal for an encrypted
		 * private key found here: a keyring never asks, it skips the file. */
		EVP_PKEY *key =
			PEM_read_bio_PUBKEY(bio, NULL, no_passphrase_cb, &wanted_passphrase);

		if (key == NULL)
			break;
		g_ptr_array_add(out, key);
	}
	/* The loop ends with "no start line" at end of input: not an error once a key was read. */
	if (out->len == 0) {
		g_autofree char *why = openssl_error_text();

		return ostick_throw(error, OSTICK_ERROR_KEY, "no PEM public key (%s)", why);
	}
	ERR_clear_error();
	return TRUE;
}

EVP_PKEY *
ostick_key_load_public(const char *path, GError **error)
{
	g_autoptr(GBytes) pem = NULL;
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify)EVP_PKEY_free);
	OstickSigAlgorithm algorithm;

	g_return_val_if_fail(path != NULL, NULL);
	if (!read_file_bytes(path, &pem, error))
		return NULL;
	if (!parse_public_keys(pem, keys, error) ||
		!ostick_key_get_algorithm(keys->pdata[0], &algorithm, error)) {
		g_prefix_error(error, "%s: ", path);
		return NULL;
	}
	return EVP_PKEY_dup(keys->pdata[0]);
}

gboolean
ostick_key_get_id(EVP_PKEY *key, guint8 out_id[OSTICK_KEY_ID_LEN], GError **error)
{
	unsigned char *der = NULL;
	int len;

	g_return_val_if_fail(key != NULL, FALSE);
	len = i2d_PUBKEY(key, &der);
	if (len <= 0) {
		g_autofree char *why = openssl_error_text();

		return ostick_throw(error, OSTICK_ERROR_KEY, "cannot encode public key: %s", why);
	}
	ostick_sha256(der, (gsize)len, out_id);
	OPENSSL_free(der);
	return TRUE;
}

/* ECDSA: OpenSSL speaks DER; the signature block stores fixed-size r||s (IEEE P1363). */
static gboolean
ecdsa_der_to_raw(const guint8 *der, gsize der_len, guint8 out[OSTICK_SIG_VALUE_LEN], GError **error)
{
	const unsigned char *p = der;
	g_autoptr(ECDSA_SIG) sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	const BIGNUM *r = NULL, *s = NULL;

	if (sig == NULL)
		return ostick_throw(error, OSTICK_ERROR_SIGNATURE, "malformed ECDSA signature");
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, out, P256_SCALAR_LEN) != P256_SCALAR_LEN ||
		BN_bn2binpad(s, out + P256_SCALAR_LEN, P256_SCALAR_LEN) != P256_SCALAR_LEN)
		return ostick_throw(error, OSTICK_ERROR_SIGNATURE, "ECDSA signature too large");
	return TRUE;
}

static gboolean
ecdsa_raw_to_der(const guint8 raw[OSTICK_SIG_VALUE_LEN], GBytes **out_der, GError **error)
{
	g_autoptr(ECDSA_SIG) sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, P256_SCALAR_LEN, NULL);
	BIGNUM *s = BN_bin2bn(raw + P256_SCALAR_LEN, P256_SCALAR_LEN, NULL);
	unsigned char *der = NULL;
	int len;

	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		return ostick_throw(error, OSTICK_ERROR_SIGNATURE, "cannot decode ECDSA value");
	}
	len = i2d_ECDSA_SIG(sig, &der);
	if (len <= 0)
		return ostick_throw(error, OSTICK_ERROR_SIGNATURE, "cannot encode ECDSA value");
	*out_der = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return TRUE;
}

static const EVP_MD *
digest_for(OstickSigAlgorithm algorithm)
{
	/* Ed25519 is "pure": it hashes internally and takes no digest. */
	return algorithm == OSTICK_SIG_ALG_ECDSA_P256_SHA256 ? EVP_sha256() : NULL;
}

gboolean
ostick_sign(EVP_PKEY *private_key, const guint8 *msg, gsize len, OstickSignature *out_sig,
	GError **error)
{
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	OstickSignature sig = {0};
	guint8 buf[128];
	size_t buf_len = sizeof buf;

	g_return_val_if_fail(private_key != NULL && out_sig != NULL, FALSE);
	if (!ostick_key_get_algorithm(private_key, &sig.algorithm, error) ||
		!ostick_key_get_id(private_key, sig.key_id, error))
		return FALSE;
	if (EVP_DigestSignInit(ctx, NULL, digest_for(sig.algorithm), NULL, private_key) != 1 ||
		EVP_DigestSign(ctx, buf, &buf_len, msg, len) != 1) {
		g_autofree char *why = openssl_error_text();

		return ostick_throw(error, OSTICK_ERROR_KEY, "signing failed: %s", why);
	}
	if (sig.algorithm == OSTICK_SIG_ALG_ED25519) {
		g_assert(buf_len == OSTICK_SIG_VALUE_LEN);
		memcpy(sig.value, buf, OSTICK_SIG_VALUE_LEN);
	} else if (!ecdsa_der_to_raw(buf, buf_len, sig.value, error)) {
		return FALSE;
	}
	*out_sig = sig;
	return TRUE;
}

gboolean
ostick_signature_verify(EVP_PKEY *public_key, const OstickSignature *sig, const guint8 *msg,
	gsize len, GError **error)
{
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	g_autoptr(GBytes) der = NULL;
	OstickSigAlgorithm key_algorithm;
	const guint8 *value = sig->value;
	gsize value_len = OSTICK_SIG_VALUE_LEN;

	g_return_val_if_fail(public_key != NULL && sig != NULL, FALSE);
	if (!ostick_key_get_algorithm(public_key, &key_algorithm, error))
		return FALSE;
	if (key_algorithm != sig->algorithm)
		return ostick_throw(error, OSTICK_ERROR_SIGNATURE,
			"signature algorithm %s does not match the %s key",
			ostick_sig_algorithm_name(sig->algorithm) ?: "(unknown)",
			ostick_sig_algorithm_name(key_algorithm));
	if (sig->algorithm == OSTICK_SIG_ALG_ECDSA_P256_SHA256) {
		if (!ecdsa_raw_to_der(sig->value, &der, error))
			return FALSE;
		value = g_bytes_get_data(der, &value_len);
	}
	if (EVP_DigestVerifyInit(ctx, NULL, digest_for(sig->algorithm), NULL, public_key) != 1 ||
		EVP_DigestVerify(ctx, value, value_len, msg, len) != 1) {
		ERR_clear_error();
		return ostick_throw(error, OSTICK_ERROR_SIGNATURE, "signature does not verify");
	}
	return TRUE;
}

/* Creates @path exclusively with @mode and writes @key to it, private or public. */
static gboolean
write_key_file(const char *path, mode_t mode, EVP_PKEY *key, gboolean private_part, GError **error)
{
	g_auto(OstickFd) fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	g_autoptr(BIO) bio = NULL;
	int ok;

	if (fd < 0)
		return ostick_throw_errno(error, "%s", path);
	/* The umask must not widen or narrow what we promise (0600 private, 0644 public). */
	if (fchmod(fd, mode) < 0)
		return ostick_throw_errno(error, "chmod %s", path);
	bio = BIO_new_fd(fd, BIO_NOCLOSE);
	ok = private_part ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
			  : PEM_write_bio_PUBKEY(bio, key);
	if (ok != 1 || BIO_flush(bio) != 1 || fsync(fd) < 0) {
		int errsv = errno;

		(void)unlink(path);
		return ostick_throw_errno_value(error, errsv ? errsv : EIO, "writing %s", path);
	}
	return TRUE;
}

gboolean
ostick_keygen(OstickSigAlgorithm algorithm, const char *private_path, const char *public_path,
	GError **error)
{
	g_autoptr(EVP_PKEY) key = NULL;

	g_return_val_if_fail(private_path != NULL && public_path != NULL, FALSE);
	if (algorithm == OSTICK_SIG_ALG_ED25519)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (algorithm == OSTICK_SIG_ALG_ECDSA_P256_SHA256)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else
		return ostick_throw(error, OSTICK_ERROR_KEY, "unknown key algorithm %u", algorithm);
	if (key == NULL) {
		g_autofree char *why = openssl_error_text();

		return ostick_throw(error, OSTICK_ERROR_KEY, "key generation failed: %s", why);
	}
	if (g_file_test(public_path, G_FILE_TEST_EXISTS))
		return ostick_throw_errno_value(error, EEXIST, "%s", public_path);
	if (!write_key_file(private_path, 0600, key, TRUE, error))
		return FALSE;
	if (!write_key_file(public_path, 0644, key, FALSE, error)) {
		(void)unlink(private_path);
		return FALSE;
	}
	return TRUE;
}

static void
keyring_add_file(OstickKeyring *keyring, const char *path, const char *name)
{
	g_autoptr(GError) local_error = NULL;
	g_autoptr(GBytes) pem = NULL;
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify)EVP_PKEY_free);

	if (!read_file_bytes(path, &pem, &local_error) ||
		!parse_public_keys(pem, keys, &local_error)) {
		g_string_append_printf(keyring->skipped, "%s%s: %s",
			keyring->skipped->len ? "; " : "", name, local_error->message);
		return;
	}
	for (guint i = 0; i < keys->len; i++) {
		EVP_PKEY *key = keys->pdata[i];
		guint8 id[OSTICK_KEY_ID_LEN];
		char hex[2 * OSTICK_KEY_ID_LEN + 1];
		OstickSigAlgorithm algorithm;

		g_clear_error(&local_error);
		if (!ostick_key_get_algorithm(key, &algorithm, &local_error) ||
			!ostick_key_get_id(key, id, &local_error)) {
			g_string_append_printf(keyring->skipped, "%s%s: %s",
				keyring->skipped->len ? "; " : "", name, local_error->message);
			continue;
		}
		ostick_hex_encode(id, sizeof id, hex);
		g_hash_table_replace(keyring->keys, g_strdup(hex), EVP_PKEY_dup(key));
	}
}

static gboolean
is_key_file_name(const char *name)
{
	return name[0] != '.' && (g_str_has_suffix(name, ".pem") || g_str_has_suffix(name, ".pub"));
}

static gboolean
keyring_add_dir(OstickKeyring *keyring, const char *path, GError **error)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, error);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const char *name;

	if (dir == NULL)
		return FALSE;
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (is_key_file_name(name))
			g_ptr_array_add(names, g_strdup(name));
	}
	/* Sorted, so that messages and duplicate resolution do not depend on readdir order. */
	g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *file = g_build_filename(path, names->pdata[i], NULL);

		keyring_add_file(keyring, file, names->pdata[i]);
	}
	return TRUE;
}

OstickKeyring *
ostick_keyring_load(const char *path, GError **error)
{
	OstickKeyring *keyring;
	struct stat st;

	g_return_val_if_fail(path != NULL, NULL);
	if (stat(path, &st) < 0) {
		ostick_throw_errno(error, "keyring %s", path);
		return NULL;
	}
	keyring = g_new0(OstickKeyring, 1);
	keyring->path = g_strdup(path);
	keyring->keys = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)EVP_PKEY_free);
	keyring->skipped = g_string_new(NULL);
	if (S_ISDIR(st.st_mode)) {
		if (!keyring_add_dir(keyring, path, error)) {
			ostick_keyring_free(keyring);
			return NULL;
		}
	} else {
		keyring_add_file(keyring, path, path);
	}
	return keyring;
}

void
ostick_keyring_free(OstickKeyring *keyring)
{
	if (keyring == NULL)
		return;
	g_free(keyring->path);
	g_hash_table_unref(keyring->keys);
	g_string_free(keyring->skipped, TRUE);
	g_free(keyring);
}

gboolean
ostick_keyring_write_pem(const OstickKeyring *keyring, const char *dir, GError **error)
{
	g_autofree gpointer *ids = (gpointer *)g_hash_table_get_keys_as_array(keyring->keys, NULL);
	guint n = g_hash_table_size(keyring->keys);

	for (guint i = 0; i < n; i++) {
		g_autofree char *name = g_strconcat(ids[i], ".pem", NULL);
		g_autofree char *path = g_build_filename(dir, name, NULL);

		if (!write_key_file(
			    path, 0644, g_hash_table_lookup(keyring->keys, ids[i]), FALSE, error))
			return FALSE;
	}
	return TRUE;
}

guint
ostick_keyring_get_size(const OstickKeyring *keyring)
{
	g_return_val_if_fail(keyring != NULL, 0);
	return g_hash_table_size(keyring->keys);
}

EVP_PKEY *
ostick_keyring_lookup(const OstickKeyring *keyring, const guint8 key_id[OSTICK_KEY_ID_LEN])
{
	char hex[2 * OSTICK_KEY_ID_LEN + 1];

	g_return_val_if_fail(keyring != NULL, NULL);
	ostick_hex_encode(key_id, OSTICK_KEY_ID_LEN, hex);
	return g_hash_table_lookup(keyring->keys, hex);
}

static gboolean
throw_untrusted(
	const OstickKeyring *keyring, const OstickSignature *sigs, guint n_sigs, GError **error)
{
	g_autoptr(GString) ids = g_string_new(NULL);

	for (guint i = 0; i < n_sigs; i++) {
		char hex[2 * OSTICK_KEY_ID_LEN + 1];

		ostick_hex_encode(sigs[i].key_id, OSTICK_KEY_ID_LEN, hex);
		g_string_append_printf(ids, "%s%.16s", i ? ", " : "", hex);
	}
	return ostick_throw(error, OSTICK_ERROR_SIGNATURE,
		"bundle is signed only by keys this device does not trust (key %s); "
		"keyring %s has %u key(s)%s%s",
		ids->str, keyring->path, g_hash_table_size(keyring->keys),
		keyring->skipped->len ? ", skipped: " : "", keyring->skipped->str);
}

gboolean
ostick_keyring_verify(const OstickKeyring *keyring, const OstickSignature *sigs, guint n_sigs,
	const guint8 *msg, gsize len, GStrv *out_key_ids, GError **error)
{
	g_autoptr(GPtrArray) verified = g_ptr_array_new_with_free_func(g_free);

	g_return_val_if_fail(keyring != NULL, FALSE);
	if (n_sigs == 0)
		return ostick_throw(error, OSTICK_ERROR_SIGNATURE, "bundle is not signed");
	for (guint i = 0; i < n_sigs; i++) {
		EVP_PKEY *key = ostick_keyring_lookup(keyring, sigs[i].key_id);
		char hex[2 * OSTICK_KEY_ID_LEN + 1];

		/* Unknown keys and algorithms are skipped: they allow key rotation and new
		 * algorithms beside ones this device knows (FORMAT.md §4.3). */
		if (key == NULL || ostick_sig_algorithm_name(sigs[i].algorithm) == NULL)
			continue;
		ostick_hex_encode(sigs[i].key_id, OSTICK_KEY_ID_LEN, hex);
		if (!ostick_signature_verify(key, &sigs[i], msg, len, error)) {
			g_prefix_error(error, "signature %u by trusted key %.16s: ", i, hex);
			return FALSE;
		}
		g_ptr_array_add(verified, g_strdup(hex));
	}
	if (verified->len == 0)
		return throw_untrusted(keyring, sigs, n_sigs, error);
	if (out_key_ids != NULL) {
		g_ptr_array_add(verified, NULL);
		*out_key_ids = (GStrv)g_ptr_array_free(g_steal_pointer(&verified), FALSE);
	}
	return TRUE;
}
