/* ostick-glib-checksum.c: GLib's GChecksum API over OpenSSL, for ostick's two executables.
 *
 * Debian's libostree 2022.7 is built without a crypto library, so it names and verifies every
 * object with GLib's GChecksum, whose SHA-256 is plain C: about 120 MB/s here, against OpenSSL's
 * 1.2 GB/s (SHA extensions on x86 and ARMv8 alike). Applying a delta hashes every object it
 * writes, so on an A -> B install GLib's SHA-256 was a quarter of the CPU time.
 *
 * ostick-bundle and ostick-apply link this file and export its functions (the Makefile's
 * --export-dynamic-symbol), so the dynamic linker binds libostree's g_checksum_*() calls to
 * them ahead of GLib's. Every function that touches a GChecksum is here, so a checksum made by
 * one implementation never reaches the other. It is not in libostick: a library must not swap
 * GLib's functions under the program that loads it.
 *
 * The digests are the same bytes (tests/unit/test-glib-checksum.c compares them with GLib's).
 * A type OpenSSL refuses (MD5 under a FIPS provider) falls back to GLib's own implementation,
 * which this wrapper then drives. */
#include "ostick-glib-checksum.h"

#include "ostick-hash.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <string.h>

#define EXPORTED __attribute__((visibility("default")))

struct _GChecksum {
	GChecksumType type;
	EVP_MD_CTX *ctx; /* NULL when @glib does the work */
	GChecksum *glib; /* GLib's own, for a type OpenSSL refused */
	guint8 digest[EVP_MAX_MD_SIZE];
	guint digest_len; /* 0 until closed */
	char *digest_str; /* made on demand once closed */
};

typedef struct {
	GChecksum *(*new_)(GChecksumType type);
	GChecksum *(*copy)(const GChecksum *checksum);
	void (*free_)(GChecksum *checksum);
	void (*reset)(GChecksum *checksum);
	void (*update)(GChecksum *checksum, const guchar *data, gssize length);
	const gchar *(*get_string)(GChecksum *checksum);
	void (*get_digest)(GChecksum *checksum, guint8 *buffer, gsize *digest_len);
} GlibChecksumFns;

static gint openssl_checksums;

guint
ostick_glib_checksum_openssl_count(void)
{
	return (guint)g_atomic_int_get(&openssl_checksums);
}

/* GLib's implementation, found past this executable in the lookup order. */
static const GlibChecksumFns *
glib_fns(void)
{
	static GlibChecksumFns fns;
	static gsize resolved;

	if (g_once_init_enter(&resolved)) {
		fns.new_ = dlsym(RTLD_NEXT, "g_checksum_new");
		fns.copy = dlsym(RTLD_NEXT, "g_checksum_copy");
		fns.free_ = dlsym(RTLD_NEXT, "g_checksum_free");
		fns.reset = dlsym(RTLD_NEXT, "g_checksum_reset");
		fns.update = dlsym(RTLD_NEXT, "g_checksum_update");
		fns.get_string = dlsym(RTLD_NEXT, "g_checksum_get_string");
		fns.get_digest = dlsym(RTLD_NEXT, "g_checksum_get_digest");
		g_once_init_leave(&resolved, 1);
	}
	return &fns;
}

static const EVP_MD *
digest_of(GChecksumType type)
{
	switch (type) {
	case G_CHECKSUM_MD5:
		return EVP_md5();
	case G_CHECKSUM_SHA1:
		return EVP_sha1();
	case G_CHECKSUM_SHA256:
		return EVP_sha256();
	case G_CHECKSUM_SHA384:
		return EVP_sha384();
	case G_CHECKSUM_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

static gboolean
start_openssl(GChecksum *checksum)
{
	const EVP_MD *md = digest_of(checksum->type);

	if (md == NULL)
		return FALSE;
	if (checksum->ctx == NULL)
		checksum->ctx = EVP_MD_CTX_new();
	return checksum->ctx != NULL && EVP_DigestInit_ex(checksum->ctx, md, NULL) == 1;
}

EXPORTED GChecksum *
g_checksum_new(GChecksumType checksum_type)
{
	g_autofree GChecksum *checksum = NULL;
	const GlibChecksumFns *glib = glib_fns();

	if (g_checksum_type_get_length(checksum_type) < 0)
		return NULL;
	checksum = g_new0(GChecksum, 1);
	checksum->type = checksum_type;
	if (start_openssl(checksum)) {
		g_atomic_int_inc(&openssl_checksums);
		return g_steal_pointer(&checksum);
	}
	EVP_MD_CTX_free(g_steal_pointer(&checksum->ctx));
	if (glib->new_ == NULL)
		return NULL;
	checksum->glib = glib->new_(checksum_type);
	return checksum->glib != NULL ? g_steal_pointer(&checksum) : NULL;
}

EXPORTED GChecksum *
g_checksum_copy(const GChecksum *checksum)
{
	GChecksum *copy;

	g_return_val_if_fail(checksum != NULL, NULL);
	copy = g_new0(GChecksum, 1);
	copy->type = checksum->type;
	memcpy(copy->digest, checksum->digest, sizeof copy->digest);
	copy->digest_len = checksum->digest_len;
	copy->digest_str = g_strdup(checksum->digest_str);
	if (checksum->glib != NULL)
		copy->glib = glib_fns()->copy(checksum->glib);
	/* A closed checksum's context is spent: the copy only needs one to be reset. */
	else if (checksum->digest_len == 0) {
		copy->ctx = EVP_MD_CTX_new();
		if (copy->ctx == NULL || EVP_MD_CTX_copy_ex(copy->ctx, checksum->ctx) != 1)
			g_error("OpenSSL could not copy a %s context",
				EVP_MD_CTX_get0_name(checksum->ctx));
	}
	return copy;
}

EXPORTED void
g_checksum_free(GChecksum *checksum)
{
	if (checksum == NULL)
		return;
	if (checksum->glib != NULL)
		glib_fns()->free_(checksum->glib);
	EVP_MD_CTX_free(checksum->ctx);
	g_free(checksum->digest_str);
	g_free(checksum);
}

EXPORTED void
g_checksum_reset(GChecksum *checksum)
{
	g_return_if_fail(checksum != NULL);
	checksum->digest_len = 0;
	g_clear_pointer(&checksum->digest_str, g_free);
	if (checksum->glib != NULL)
		glib_fns()->reset(checksum->glib);
	else if (!start_openssl(checksum))
		g_error("OpenSSL could not restart a checksum of type %d", checksum->type);
}

EXPORTED void
g_checksum_update(GChecksum *checksum, const guchar *data, gssize length)
{
	g_return_if_fail(checksum != NULL);
	g_return_if_fail(length == 0 || data != NULL);
	g_return_if_fail(checksum->digest_len == 0); /* closed: GLib refuses too */
	if (checksum->glib != NULL) {
		glib_fns()->update(checksum->glib, data, length);
		return;
	}
	if (length < 0)
		length = (gssize)strlen((const char *)data);
	if (EVP_DigestUpdate(checksum->ctx, data, (size_t)length) != 1)
		g_error("OpenSSL could not update a checksum");
}

/* Closes @checksum: its digest is final from now on. */
static void
close_checksum(GChecksum *checksum)
{
	unsigned int len = 0;

	if (checksum->digest_len != 0)
		return;
	if (checksum->glib != NULL) {
		gsize glib_len = sizeof checksum->digest;

		glib_fns()->get_digest(checksum->glib, checksum->digest, &glib_len);
		len = (unsigned int)glib_len;
	} else if (EVP_DigestFinal_ex(checksum->ctx, checksum->digest, &len) != 1)
		g_error("OpenSSL could not finish a checksum");
	checksum->digest_len = len;
}

EXPORTED const gchar *
g_checksum_get_string(GChecksum *checksum)
{
	g_return_val_if_fail(checksum != NULL, NULL);
	close_checksum(checksum);
	if (checksum->digest_str == NULL) {
		checksum->digest_str = g_malloc(2 * checksum->digest_len + 1);
		ostick_hex_encode(checksum->digest, checksum->digest_len, checksum->digest_str);
	}
	return checksum->digest_str;
}

EXPORTED void
g_checksum_get_digest(GChecksum *checksum, guint8 *buffer, gsize *digest_len)
{
	g_return_if_fail(checksum != NULL);
	g_return_if_fail(digest_len != NULL &&
			 *digest_len >= (gsize)g_checksum_type_get_length(checksum->type));
	close_checksum(checksum);
	memcpy(buffer, checksum->digest, checksum->digest_len);
	*digest_len = checksum->digest_len;
}
