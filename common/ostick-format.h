/* ostick-format.h: the constants of format-spec/FORMAT.md (bundle format 1).
 *
 * Every number here is a rule of the spec; the section is named beside it. Structures are
 * read and written with the load/store helpers below, never by casting to packed structs.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* §2 Container: tar members in this exact order. */
#define OSTICK_MEMBER_MANIFEST "ostick.manifest"
#define OSTICK_MEMBER_SIGNATURES "ostick.sig"
#define OSTICK_MEMBER_SUPERBLOCK "delta/superblock"
#define OSTICK_MEMBER_PART_PREFIX "delta/" /* followed by the part index in decimal */
#define OSTICK_BUNDLE_SUFFIX ".ostick"

/* §3 Manifest. */
#define OSTICK_FORMAT_VERSION 1
#define OSTICK_MANIFEST_MAX_SIZE (1024 * 1024)
#define OSTICK_COMPATIBLE_MAX_LEN 256
#define OSTICK_VERSION_MAX_LEN 128
#define OSTICK_OS_MAX_LEN 64
#define OSTICK_REF_MAX_LEN 256
#define OSTICK_TEXT_MAX_LEN 4096 /* optional free text (description) */
#define OSTICK_PARTS_MAX 4096
#define OSTICK_SUPERBLOCK_MAX_SIZE (G_GUINT64_CONSTANT(32) * 1024 * 1024)
#define OSTICK_PART_MAX_SIZE (G_GUINT64_CONSTANT(16) * 1024 * 1024 * 1024)
#define OSTICK_INSTALL_SIZE_MAX (G_GUINT64_CONSTANT(1) << 50) /* 1 PiB */
#define OSTICK_ENCODING_NONE "none"
#define OSTICK_ENCODING_OSTREE_XZ "ostree-xz"
/* §5.5: a zstd frame of the part's payload (libostree's part file less its compression byte,
 * decoded). Decoders allow windows up to 2^OSTICK_ZSTD_WINDOW_LOG_MAX bytes. */
#define OSTICK_ENCODING_ZSTD "zstd"
/* §5.8: the same, but the payload went through the x86 branch conversion before zstd. */
#define OSTICK_ENCODING_ZSTD_X86 "zstd-x86"
#define OSTICK_ZSTD_WINDOW_LOG_MAX 27

/* §4 Signature block: a 16-byte header, then OSTICK_SIG_RECORD_SIZE bytes per signature.
 * All integers little-endian. */
#define OSTICK_SIG_MAGIC "OSTICKSG"
#define OSTICK_SIG_MAGIC_LEN 8
#define OSTICK_SIG_VERSION 1
#define OSTICK_SIG_OFF_MAGIC 0
#define OSTICK_SIG_OFF_VERSION 8 /* u32 LE */
#define OSTICK_SIG_OFF_COUNT 12 /* u32 LE */
#define OSTICK_SIG_HEADER_SIZE 16
#define OSTICK_SIG_REC_OFF_ALGORITHM 0 /* u16 LE */
#define OSTICK_SIG_REC_OFF_RESERVED 2 /* u16 LE, zero */
#define OSTICK_SIG_REC_OFF_KEY_ID 4 /* 32 bytes: SHA-256 of the DER SubjectPublicKeyInfo */
#define OSTICK_SIG_REC_OFF_VALUE 36 /* 64 bytes: Ed25519 signature, or ECDSA r||s */
#define OSTICK_SIG_RECORD_SIZE 100
#define OSTICK_SIG_MAX_COUNT 16
#define OSTICK_KEY_ID_LEN 32
#define OSTICK_SIG_VALUE_LEN 64
#define OSTICK_SIG_MAX_SIZE (OSTICK_SIG_HEADER_SIZE + OSTICK_SIG_MAX_COUNT * OSTICK_SIG_RECORD_SIZE)

typedef enum {
	OSTICK_SIG_ALG_ED25519 = 1,
	OSTICK_SIG_ALG_ECDSA_P256_SHA256 = 2,
} OstickSigAlgorithm;

G_STATIC_ASSERT(OSTICK_SIG_OFF_COUNT + 4 + 0 == OSTICK_SIG_HEADER_SIZE);
G_STATIC_ASSERT(OSTICK_SIG_REC_OFF_KEY_ID + OSTICK_KEY_ID_LEN == OSTICK_SIG_REC_OFF_VALUE);
G_STATIC_ASSERT(OSTICK_SIG_REC_OFF_VALUE + OSTICK_SIG_VALUE_LEN == OSTICK_SIG_RECORD_SIZE);
G_STATIC_ASSERT(sizeof(OSTICK_SIG_MAGIC) - 1 == OSTICK_SIG_MAGIC_LEN);
G_STATIC_ASSERT(OSTICK_PARTS_MAX * 160 < OSTICK_MANIFEST_MAX_SIZE);

static inline guint16
ostick_load_le16(const guint8 *p)
{
	return (guint16)(p[0] | (p[1] << 8));
}

static inline guint32
ostick_load_le32(const guint8 *p)
{
	return (guint32)p[0] | ((guint32)p[1] << 8) | ((guint32)p[2] << 16) | ((guint32)p[3] << 24);
}

static inline void
ostick_store_le16(guint8 *p, guint16 v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static inline void
ostick_store_le32(guint8 *p, guint32 v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

G_END_DECLS
