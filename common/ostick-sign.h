/* ostick-sign.h: keys, signatures over the manifest, and the device keyring (OpenSSL).
 *
 * Ed25519 (default) and ECDSA P-256 with SHA-256. A key is named by its key ID: the SHA-256 of
 * its DER-encoded SubjectPublicKeyInfo (`openssl pkey -pubin -outform DER | sha256sum`).
 */
#pragma once

#include "ostick-format.h"
#include "ostick.h"

#include <glib.h>
#include <openssl/evp.h>

G_BEGIN_DECLS

typedef struct {
	OstickSigAlgorithm algorithm;
	guint8 key_id[OSTICK_KEY_ID_LEN];
	guint8 value[OSTICK_SIG_VALUE_LEN];
} OstickSignature;

/* Name of @algorithm ("ed25519", "ecdsa-p256-sha256"), or NULL if unknown. */
const char *ostick_sig_algorithm_name(guint algorithm);

/* Loads an unencrypted PEM private key. (transfer full). Errors: G_IO_ERROR (unreadable),
 * OSTICK_ERROR_KEY (not a private key, encrypted, or a type other than Ed25519/P-256). */
EVP_PKEY *ostick_key_load_private(const char *path, GError **error);

/* Loads a PEM public key (a private key file is refused). (transfer full). Errors as above. */
EVP_PKEY *ostick_key_load_public(const char *path, GError **error);

/* The signature algorithm for @key, or OSTICK_ERROR_KEY if its type is unsupported. */
gboolean ostick_key_get_algorithm(EVP_PKEY *key, OstickSigAlgorithm *out_algorithm, GError **error);

/* The key ID of @key (public part of a private key too). */
gboolean ostick_key_get_id(EVP_PKEY *key, guint8 out_id[OSTICK_KEY_ID_LEN], GError **error);

/* Signs @msg with @private_key into @out_sig (algorithm, key ID and value filled in). */
gboolean ostick_sign(EVP_PKEY *private_key, const guint8 *msg, gsize len, OstickSignature *out_sig,
	GError **error);

/* Verifies @sig over @msg with @public_key. OSTICK_ERROR_SIGNATURE if it does not verify or the
 * algorithm does not match the key. */
gboolean ostick_signature_verify(EVP_PKEY *public_key, const OstickSignature *sig,
	const guint8 *msg, gsize len, GError **error);

/* Generates a key pair: the private key (PKCS#8 PEM, mode 0600) at @private_path and the public
 * key (PEM) at @public_path. Neither may exist (G_IO_ERROR_EXISTS). @algorithm picks the type. */
gboolean ostick_keygen(OstickSigAlgorithm algorithm, const char *private_path,
	const char *public_path, GError **error);

/* The trusted public keys of a device: OstickKeyring, ostick_keyring_load() and
 * ostick_keyring_free() are public (ostick.h). Files that hold no public key are skipped and
 * remembered for error messages. */

guint ostick_keyring_get_size(const OstickKeyring *keyring);
/* The key with @key_id, or NULL. (transfer none): valid while @keyring lives. */
EVP_PKEY *ostick_keyring_lookup(
	const OstickKeyring *keyring, const guint8 key_id[OSTICK_KEY_ID_LEN]);

/* The acceptance rule of FORMAT.md §4.3 for @sigs over @msg: at least one signature by a trusted
 * key, and every signature by a trusted key verifies; signatures by other keys or with unknown
 * algorithms are ignored. On success @out_key_ids (optional) receives the hex IDs of the keys
 * that verified (transfer full). Error: OSTICK_ERROR_SIGNATURE. */
/* Writes every key of @keyring as a new PEM file "<hex key ID>.pem" (mode 0644) into the
 * directory @dir: the keyring as loaded, without the files a reader skipped. */
gboolean ostick_keyring_write_pem(const OstickKeyring *keyring, const char *dir, GError **error);

gboolean ostick_keyring_verify(const OstickKeyring *keyring, const OstickSignature *sigs,
	guint n_sigs, const guint8 *msg, gsize len, GStrv *out_key_ids, GError **error);

G_END_DECLS
