/* ostick-hash.c: SHA-256 through OpenSSL (hardware-accelerated where the CPU allows). */
#include "ostick-hash.h"

#include "ostick-cleanup.h"

#include <string.h>

EVP_MD_CTX *
ostick_sha256_new(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		g_error("OpenSSL: cannot initialise SHA-256");
	return ctx;
}

void
ostick_sha256_update(EVP_MD_CTX *ctx, const void *data, gsize len)
{
	if (len > 0 && EVP_DigestUpdate(ctx, data, len) != 1)
		g_error("OpenSSL: SHA-256 update failed");
}

void
ostick_sha256_finish(EVP_MD_CTX *ctx, guint8 out[OSTICK_SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != OSTICK_SHA256_LEN)
		g_error("OpenSSL: SHA-256 final failed");
}

void
ostick_sha256_finish_hex(EVP_MD_CTX *ctx, char out[OSTICK_SHA256_HEX_LEN + 1])
{
	guint8 digest[OSTICK_SHA256_LEN];

	ostick_sha256_finish(ctx, digest);
	ostick_hex_encode(digest, sizeof digest, out);
}

void
ostick_sha256(const void *data, gsize len, guint8 out[OSTICK_SHA256_LEN])
{
	g_autoptr(EVP_MD_CTX) ctx = ostick_sha256_new();

	ostick_sha256_update(ctx, data, len);
	ostick_sha256_finish(ctx, out);
}

void
ostick_sha256_hex(const void *data, gsize len, char out[OSTICK_SHA256_HEX_LEN + 1])
{
	guint8 digest[OSTICK_SHA256_LEN];

	ostick_sha256(data, len, digest);
	ostick_hex_encode(digest, sizeof digest, out);
}

void
ostick_hex_encode(const guint8 *bytes, gsize len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (gsize i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

gboolean
ostick_hex_decode(const char *hex, guint8 *out, gsize len)
{
	if (hex == NULL || strlen(hex) != 2 * len)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		int hi = hex_value(hex[2 * i]);
		int lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return FALSE;
		out[i] = (guint8)((hi << 4) | lo);
	}
	return TRUE;
}

gboolean
ostick_is_sha256_hex(const char *s)
{
	guint8 scratch[OSTICK_SHA256_LEN];

	return ostick_hex_decode(s, scratch, sizeof scratch);
}
