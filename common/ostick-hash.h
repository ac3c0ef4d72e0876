/* ostick-hash.h: SHA-256 (OpenSSL EVP) and hex helpers. */
#pragma once

#include <glib.h>
#include <openssl/evp.h>

G_BEGIN_DECLS

#define OSTICK_SHA256_LEN 32
#define OSTICK_SHA256_HEX_LEN 64

/* A streaming SHA-256. (transfer full): free with EVP_MD_CTX_free or g_autoptr(EVP_MD_CTX).
 * Never fails in practice; on an OpenSSL allocation failure it aborts like g_malloc does. */
EVP_MD_CTX *ostick_sha256_new(void);
void ostick_sha256_update(EVP_MD_CTX *ctx, const void *data, gsize len);
/* Finishes @ctx into @out (32 bytes). @ctx may not be updated afterwards. */
void ostick_sha256_finish(EVP_MD_CTX *ctx, guint8 out[OSTICK_SHA256_LEN]);
/* Finishes @ctx into 64 lowercase hex digits plus NUL. */
void ostick_sha256_finish_hex(EVP_MD_CTX *ctx, char out[OSTICK_SHA256_HEX_LEN + 1]);

/* One-shot digest of @data. */
void ostick_sha256(const void *data, gsize len, guint8 out[OSTICK_SHA256_LEN]);
void ostick_sha256_hex(const void *data, gsize len, char out[OSTICK_SHA256_HEX_LEN + 1]);

/* Lowercase hex of @len bytes into @out (2 * @len + 1 bytes). */
void ostick_hex_encode(const guint8 *bytes, gsize len, char *out);
/* Strict: exactly 2 * @len lowercase hex digits. Returns FALSE on anything else. */
gboolean ostick_hex_decode(const char *hex, guint8 *out, gsize len);
/* TRUE if @s is exactly 64 lowercase hex digits. */
gboolean ostick_is_sha256_hex(const char *s);

G_END_DECLS
