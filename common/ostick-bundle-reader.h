/* ostick-bundle-reader.h: reads a bundle in one sequential pass, in the order of checks that
 * FORMAT.md §7 prescribes: signature block and signature first, then the manifest, then each
 * payload member hashed while read and compared before anyone may use it.
 *
 * The reader never seeks and never reopens anything, so it works on pipes, sockets and files
 * alike, and a device that serves different bytes on a second read gains nothing.
 */
#pragma once

#include "ostick-manifest.h"
#include "ostick-sigblock.h"
#include "ostick-superblock.h"

#include <gio/gio.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct _OstickBundleReader OstickBundleReader;

/* Receives a chunk of a payload member. The bytes are NOT yet verified: a sink may only store
 * them until ostick_bundle_reader_read_part() has returned TRUE. */
typedef gboolean (*OstickChunkFunc)(
	const guint8 *data, gsize len, gpointer user_data, GError **error);

/* Reads from @fd (borrowed, read sequentially from its current offset). A read waiting for a
 * slow sender ends as soon as @cancellable (optional) is cancelled, with G_IO_ERROR_CANCELLED.
 * (transfer full) */
OstickBundleReader *ostick_bundle_reader_new(int fd, GCancellable *cancellable, GError **error);
void ostick_bundle_reader_free(OstickBundleReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickBundleReader, ostick_bundle_reader_free)

/* Reads the manifest and signature block members and verifies the signatures over the exact
 * manifest bytes against @keyring (FORMAT.md §4.3) before parsing the manifest.
 * Errors: OSTICK_ERROR_FORMAT, OSTICK_ERROR_VERSION, OSTICK_ERROR_SIGNATURE, G_IO_ERROR. */
gboolean ostick_bundle_reader_verify(
	OstickBundleReader *reader, const OstickKeyring *keyring, GError **error);

/* For inspection only: reads and parses the same two members without verifying anything.
 * Payload members can then be read and hashed, but nothing they say is authenticated. */
gboolean ostick_bundle_reader_read_unverified(OstickBundleReader *reader, GError **error);

/* TRUE once ostick_bundle_reader_verify() succeeded. */
gboolean ostick_bundle_reader_is_verified(const OstickBundleReader *reader);
/* The parsed manifest. (transfer none) */
const OstickManifest *ostick_bundle_reader_get_manifest(const OstickBundleReader *reader);
/* The exact manifest bytes. (transfer none) */
GBytes *ostick_bundle_reader_get_manifest_bytes(const OstickBundleReader *reader);
/* The parsed signature records (OstickSignature). (transfer none) */
GArray *ostick_bundle_reader_get_signatures(const OstickBundleReader *reader);
/* Hex IDs of the trusted keys whose signatures verified. (transfer none) */
const char *const *ostick_bundle_reader_get_signer_ids(const OstickBundleReader *reader);

/* Reads the superblock member, checks its size and SHA-256 against the manifest, then parses it
 * and checks it agrees with the manifest. (transfer none): valid while @reader lives.
 * Errors: OSTICK_ERROR_CORRUPT (size or hash), OSTICK_ERROR_FORMAT. */
const OstickSuperblock *ostick_bundle_reader_read_superblock(
	OstickBundleReader *reader, GError **error);

/* Streams part @index (which must be the next one) to @sink while hashing it. Returns TRUE only
 * if the member had exactly the manifest's size and SHA-256. Errors: OSTICK_ERROR_CORRUPT,
 * OSTICK_ERROR_FORMAT, G_IO_ERROR, or whatever @sink reports. */
gboolean ostick_bundle_reader_read_part(OstickBundleReader *reader, guint index,
	OstickChunkFunc sink, gpointer user_data, GError **error);

/* Like ostick_bundle_reader_read_part(), and then checks what an install would: the part is
 * staged in an anonymous file in @tmp_dir (NULL: the temporary directory) once its hash matched,
 * and decoded into nothing, within its bound (zstd: its payload-size, FORMAT.md §5.5; ostree-xz:
 * §5.4). For verification without applying. Errors: those of read_part, and
 * OSTICK_ERROR_CORRUPT for a part that does not decode within its bound. */
gboolean ostick_bundle_reader_check_part(OstickBundleReader *reader, guint index,
	OstickChunkFunc sink, gpointer user_data, const char *tmp_dir, GError **error);

/* Checks that the archive ends after the last part, then drains what the sender still writes
 * (tar end padding) so that a pipe's writer does not see EPIPE. */
gboolean ostick_bundle_reader_finish(OstickBundleReader *reader, GError **error);

/* After an early stop on a verified bundle (its target already installed), reads and discards
 * what the sender still sends, at most what the verified manifest declares, so that the writer
 * of a pipe is not killed by SIGPIPE. Does nothing for regular files or unverified bundles. */
void ostick_bundle_reader_drain(OstickBundleReader *reader);

/* Bytes consumed from the descriptor so far. */
guint64 ostick_bundle_reader_get_bytes_read(const OstickBundleReader *reader);

G_END_DECLS
