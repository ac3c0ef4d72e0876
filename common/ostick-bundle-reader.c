/* ostick-bundle-reader.c: the sequential, verify-first bundle reader. */
#include "ostick-bundle-reader.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "ostick-hash.h"
#include "ostick-tar-headers.h"
#include "ostick-xz.h"
#include "ostick-zstd.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)
#define BLOCK_SIZE (64 * 1024)
#define DRAIN_MAX (16 * 1024 * 1024)
#define SHOWN_NAME_MAX 120
#define DRAIN_TAR_SLACK (16 * 1024) /* per member: header, padding; and the end blocks */

typedef enum {
	STATE_START,
	STATE_HEADER, /* manifest and signatures read */
	STATE_SUPERBLOCK,
	STATE_DONE,
	STATE_FAILED,
} ReaderState;

struct _OstickBundleReader {
	struct archive *archive;
	int fd;
	ReaderState state;
	gboolean verified;
	GBytes *manifest_bytes;
	GArray *signatures;
	OstickManifest *manifest;
	GStrv signer_ids;
	OstickSuperblock *superblock;
	guint next_part;
	guint8 *buf;
	guint8 *block; /* libarchive reads into this */
	OstickTarWindow *headers; /* the last bytes read, for the raw header checks */
	GCancellable *cancellable;
	int cancel_fd; /* readable once cancelled */
};

/* libarchive's read callback. A sender that stalls (a pipe, a socket) must not hold off a
 * cancellation: wait for data or for the cancellable, whichever comes first. */
static la_ssize_t
read_block(struct archive *archive, void *user_data, const void **out_block)
{
	OstickBundleReader *reader = user_data;
	struct pollfd fds[2] = {{reader->fd, POLLIN, 0}, {-1, POLLIN, 0}};
	ssize_t n;

	*out_block = reader->block;
	fds[1].fd = reader->cancel_fd;
	for (;;) {
		if (g_cancellable_is_cancelled(reader->cancellable)) {
			archive_set_error(archive, ECANCELED, "interrupted");
			return -1;
		}
		if (poll(fds, fds[1].fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) {
			archive_set_error(archive, errno, "poll");
			return -1;
		}
		if (fds[0].revents == 0)
			continue;
		n = read(reader->fd, reader->block, BLOCK_SIZE);
		if (n >= 0) {
			ostick_tar_window_add(reader->headers, reader->block, (gsize)n);
			return n;
		}
		if (errno != EINTR && errno != EAGAIN) {
			archive_set_error(archive, errno, "read");
			return -1;
		}
	}
}

OstickBundleReader *
ostick_bundle_reader_new(int fd, GCancellable *cancellable, GError **error)
{
	g_autoptr(OstickBundleReader) reader = g_new0(OstickBundleReader, 1);

	reader->fd = fd;
	reader->buf = g_malloc(READ_CHUNK);
	reader->block = g_malloc(BLOCK_SIZE);
	reader->headers = ostick_tar_window_new();
	reader->cancellable = cancellable ? g_object_ref(cancellable) : g_cancellable_new();
	reader->cancel_fd = g_cancellable_get_fd(reader->cancellable);
	reader->archive = archive_read_new();
	/* Plain tar only: no decompression filters, no other formats (less code on hostile input). */
	if (archive_read_support_format_tar(reader->archive) != ARCHIVE_OK ||
		archive_read_open(reader->archive, reader, NULL, read_block, NULL) != ARCHIVE_OK) {
		int errsv = archive_errno(reader->archive);

		/* A stick pulled before the first block: an I/O error, not a bad bundle. */
		if (errsv > 0 && errsv != EINVAL && errsv != EILSEQ)
			ostick_throw_errno_value(error, errsv, "reading the bundle");
		else
			ostick_throw(error, OSTICK_ERROR_FORMAT, "not a bundle: %s",
				archive_error_string(reader->archive) ?: "unreadable");
		return NULL;
	}
	return g_steal_pointer(&reader);
}

void
ostick_bundle_reader_free(OstickBundleReader *reader)
{
	if (reader == NULL)
		return;
	archive_read_free(reader->archive);
	g_clear_pointer(&reader->manifest_bytes, g_bytes_unref);
	g_clear_pointer(&reader->signatures, g_array_unref);
	g_clear_pointer(&reader->manifest, ostick_manifest_free);
	g_clear_pointer(&reader->superblock, ostick_superblock_free);
	g_strfreev(reader->signer_ids);
	g_free(reader->buf);
	g_free(reader->block);
	ostick_tar_window_free(reader->headers);
	if (reader->cancellable != NULL && reader->cancel_fd >= 0)
		g_cancellable_release_fd(reader->cancellable);
	g_clear_object(&reader->cancellable);
	g_free(reader);
}

/* libarchive reports both I/O failures (a stick pulled out: EIO, ENODEV) and malformed input;
 * only the former are G_IO_ERRORs. */
static gboolean
throw_archive(OstickBundleReader *reader, const char *what, GError **error)
{
	int errsv = archive_errno(reader->archive);
	const char *msg = archive_error_string(reader->archive);

	reader->state = STATE_FAILED;
	if (errsv == ECANCELED)
		return g_cancellable_set_error_if_cancelled(reader->cancellable, error), FALSE;
	if (errsv > 0 && errsv != EINVAL && errsv != EILSEQ)
		return ostick_throw_errno_value(error, errsv, "%s", what);
	return ostick_throw(error, OSTICK_ERROR_FORMAT, "%s: %s", what,
		msg ? msg : "malformed or truncated tar");
}

static gboolean
fail(OstickBundleReader *reader, GError **error)
{
	reader->state = STATE_FAILED;
	return FALSE;
}

/* An unauthenticated member name as it may appear in a message: escaped (no terminal control
 * sequences reach a log) and cut to a readable length. (transfer full) */
static char *
shown_name(const char *path)
{
	g_autofree char *escaped = path ? g_strescape(path, NULL) : g_strdup("(unnamed)");

	if (strlen(escaped) <= SHOWN_NAME_MAX)
		return g_steal_pointer(&escaped);
	return g_strdup_printf("%.*s...", SHOWN_NAME_MAX, escaped);
}

static gboolean
check_entry(struct archive_entry *entry, const char *name, GError **error)
{
	const char *path = archive_entry_pathname(entry);

	if (path == NULL || strcmp(path, name) != 0) {
		g_autofree char *shown = shown_name(path);

		return ostick_throw(error, OSTICK_ERROR_FORMAT, "expected member '%s', found '%s'",
			name, shown);
	}
	if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != NULL ||
		archive_entry_symlink(entry) != NULL)
		return ostick_throw(
			error, OSTICK_ERROR_FORMAT, "member '%s' is not a regular file", name);
	if (archive_entry_sparse_count(entry) != 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "member '%s' is sparse", name);
	if (!archive_entry_size_is_set(entry) || archive_entry_size(entry) < 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "member '%s' has no size", name);
	return TRUE;
}

/* Moves to the next member, which must be the regular file @name of at most @max_size bytes. */
static gboolean
next_member(OstickBundleReader *reader, const char *name, guint64 max_size, guint64 *out_size,
	GError **error)
{
	struct archive_entry *entry = NULL;
	int r = archive_read_next_header(reader->archive, &entry);
	guint64 size;

	if (r == ARCHIVE_EOF) {
		reader->state = STATE_FAILED;
		return ostick_throw(
			error, OSTICK_ERROR_FORMAT, "bundle truncated: no member '%s'", name);
	}
	if (r != ARCHIVE_OK)
		return throw_archive(reader, name, error);
	if (!check_entry(entry, name, error) ||
		!ostick_tar_window_check_member(reader->headers,
			(guint64)archive_read_header_position(reader->archive), name, error))
		return fail(reader, error);
	size = (guint64)archive_entry_size(entry);
	if (size > max_size) {
		reader->state = STATE_FAILED;
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"member '%s' is %" G_GUINT64_FORMAT " bytes (at most %" G_GUINT64_FORMAT
			")",
			name, size, max_size);
	}
	*out_size = size;
	return TRUE;
}

/* Reads exactly @size bytes of the current member, passing them to @sink and @hash. */
static gboolean
stream_member(OstickBundleReader *reader, const char *name, guint64 size, EVP_MD_CTX *hash,
	OstickChunkFunc sink, gpointer user_data, GError **error)
{
	guint64 done = 0;

	while (done < size) {
		la_ssize_t n = archive_read_data(
			reader->archive, reader->buf, (size_t)MIN(size - done, READ_CHUNK));

		if (n < 0)
			return throw_archive(reader, name, error);
		if (n == 0) {
			reader->state = STATE_FAILED;
			return ostick_throw(
				error, OSTICK_ERROR_FORMAT, "bundle truncated in '%s'", name);
		}
		ostick_sha256_update(hash, reader->buf, (gsize)n);
		if (sink != NULL && !sink(reader->buf, (gsize)n, user_data, error))
			return fail(reader, error);
		done += (guint64)n;
	}
	return TRUE;
}

static gboolean
append_chunk(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	g_byte_array_append(user_data, data, (guint)len);
	return TRUE;
}

static gboolean
read_member_bytes(OstickBundleReader *reader, const char *name, guint64 max_size,
	GBytes **out_bytes, char out_sha256[OSTICK_SHA256_HEX_LEN + 1], GError **error)
{
	g_autoptr(EVP_MD_CTX) hash = ostick_sha256_new();
	g_autoptr(GByteArray) data = NULL;
	guint64 size = 0;

	if (!next_member(reader, name, max_size, &size, error))
		return FALSE;
	data = g_byte_array_sized_new((guint)size);
	if (!stream_member(reader, name, size, hash, append_chunk, data, error))
		return FALSE;
	if (out_sha256 != NULL)
		ostick_sha256_finish_hex(hash, out_sha256);
	*out_bytes = g_byte_array_free_to_bytes(g_steal_pointer(&data));
	return TRUE;
}

static gboolean
read_header_members(OstickBundleReader *reader, GError **error)
{
	g_autoptr(GBytes) sigblock = NULL;
	gsize len = 0;
	const guint8 *data;

	g_return_val_if_fail(reader->state == STATE_START, FALSE);
	if (!read_member_bytes(reader, OSTICK_MEMBER_MANIFEST, OSTICK_MANIFEST_MAX_SIZE,
		    &reader->manifest_bytes, NULL, error) ||
		!read_member_bytes(reader, OSTICK_MEMBER_SIGNATURES, OSTICK_SIG_MAX_SIZE, &sigblock,
			NULL, error))
		return FALSE;
	data = g_bytes_get_data(sigblock, &len);
	if (!ostick_sigblock_parse(data, len, &reader->signatures, error))
		return fail(reader, error);
	return TRUE;
}

static gboolean
parse_manifest(OstickBundleReader *reader, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(reader->manifest_bytes, &len);

	reader->manifest = ostick_manifest_parse(data, len, error);
	if (reader->manifest == NULL)
		return fail(reader, error);
	reader->state = STATE_HEADER;
	return TRUE;
}

gboolean
ostick_bundle_reader_verify(
	OstickBundleReader *reader, const OstickKeyring *keyring, GError **error)
{
	gsize len = 0;
	const guint8 *data;

	g_return_val_if_fail(reader != NULL && keyring != NULL, FALSE);
	if (!read_header_members(reader, error))
		return FALSE;
	data = g_bytes_get_data(reader->manifest_bytes, &len);
	/* FORMAT.md §7: the signature is checked before the manifest text is parsed at all. */
	if (!ostick_keyring_verify(keyring, &g_array_index(reader->signatures, OstickSignature, 0),
		    reader->signatures->len, data, len, &reader->signer_ids, error))
		return fail(reader, error);
	reader->verified = TRUE;
	return parse_manifest(reader, error);
}

gboolean
ostick_bundle_reader_read_unverified(OstickBundleReader *reader, GError **error)
{
	g_return_val_if_fail(reader != NULL, FALSE);
	return read_header_members(reader, error) && parse_manifest(reader, error);
}

gboolean
ostick_bundle_reader_is_verified(const OstickBundleReader *reader)
{
	return reader->verified;
}

const OstickManifest *
ostick_bundle_reader_get_manifest(const OstickBundleReader *reader)
{
	return reader->manifest;
}

GBytes *
ostick_bundle_reader_get_manifest_bytes(const OstickBundleReader *reader)
{
	return reader->manifest_bytes;
}

GArray *
ostick_bundle_reader_get_signatures(const OstickBundleReader *reader)
{
	return reader->signatures;
}

const char *const *
ostick_bundle_reader_get_signer_ids(const OstickBundleReader *reader)
{
	return (const char *const *)reader->signer_ids;
}

static gboolean
check_digest(OstickBundleReader *reader, const char *name, EVP_MD_CTX *hash, const char *expected,
	GError **error)
{
	char actual[OSTICK_SHA256_HEX_LEN + 1];

	ostick_sha256_finish_hex(hash, actual);
	if (strcmp(actual, expected) != 0) {
		reader->state = STATE_FAILED;
		return ostick_throw(error, OSTICK_ERROR_CORRUPT,
			"'%s' does not match the signed manifest (SHA-256 %.16s…, expected "
			"%.16s…)",
			name, actual, expected);
	}
	return TRUE;
}

/* Moves to member @name, which must be exactly @member->size bytes. */
static gboolean
next_payload_member(
	OstickBundleReader *reader, const char *name, const OstickMember *member, GError **error)
{
	guint64 size = 0;

	if (!next_member(reader, name, G_MAXUINT64, &size, error))
		return FALSE;
	if (size != member->size) {
		reader->state = STATE_FAILED;
		return ostick_throw(error, OSTICK_ERROR_CORRUPT,
			"'%s' is %" G_GUINT64_FORMAT
			" bytes, the signed manifest says %" G_GUINT64_FORMAT,
			name, size, member->size);
	}
	return TRUE;
}

const OstickSuperblock *
ostick_bundle_reader_read_superblock(OstickBundleReader *reader, GError **error)
{
	const OstickMember *member;
	g_autoptr(EVP_MD_CTX) hash = ostick_sha256_new();
	g_autoptr(GByteArray) data = NULL;
	g_autoptr(GBytes) bytes = NULL;

	g_return_val_if_fail(reader->state == STATE_HEADER, NULL);
	member = &reader->manifest->superblock;
	if (!next_payload_member(reader, OSTICK_MEMBER_SUPERBLOCK, member, error))
		return NULL;
	data = g_byte_array_sized_new((guint)member->size);
	if (!stream_member(reader, OSTICK_MEMBER_SUPERBLOCK, member->size, hash, append_chunk, data,
		    error) ||
		!check_digest(reader, OSTICK_MEMBER_SUPERBLOCK, hash, member->sha256, error))
		return NULL;
	bytes = g_byte_array_free_to_bytes(g_steal_pointer(&data));
	reader->superblock = ostick_superblock_parse(bytes, error);
	if (reader->superblock == NULL ||
		!ostick_superblock_check_manifest(reader->superblock, reader->manifest, error)) {
		reader->state = STATE_FAILED;
		return NULL;
	}
	reader->state = STATE_SUPERBLOCK;
	return reader->superblock;
}

gboolean
ostick_bundle_reader_read_part(OstickBundleReader *reader, guint index, OstickChunkFunc sink,
	gpointer user_data, GError **error)
{
	g_autoptr(EVP_MD_CTX) hash = ostick_sha256_new();
	g_autofree char *name = ostick_part_member_name(index);
	const OstickMember *member;

	g_return_val_if_fail(reader->state == STATE_SUPERBLOCK, FALSE);
	g_return_val_if_fail(
		index == reader->next_part && index < reader->manifest->n_parts, FALSE);
	member = &reader->manifest->parts[index];
	if (!next_payload_member(reader, name, member, error) ||
		!stream_member(reader, name, member->size, hash, sink, user_data, error) ||
		!check_digest(reader, name, hash, member->sha256, error))
		return FALSE;
	reader->next_part++;
	return TRUE;
}

typedef struct {
	OstickChunkFunc sink;
	gpointer user_data;
	int fd;
} StagingSink;

static gboolean
stage_chunk(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	StagingSink *staging = user_data;

	if (staging->sink != NULL && !staging->sink(data, len, staging->user_data, error))
		return FALSE;
	return ostick_write_all(staging->fd, data, len, error);
}

static gboolean
discard(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	return TRUE;
}

static gboolean
decode_xz_to_nothing(OstickBundleReader *reader, guint index, int member_fd, GError **error)
{
	OstickDeltaPartInfo info;

	ostick_superblock_get_part(reader->superblock, index, &info);
	return ostick_xz_decode_part(member_fd,
		ostick_xz_payload_bound(
			reader->manifest->parts[index].decoded_size, info.n_objects),
		TRUE, discard, NULL, NULL, reader->cancellable, error);
}

gboolean
ostick_bundle_reader_check_part(OstickBundleReader *reader, guint index, OstickChunkFunc sink,
	gpointer user_data, const char *tmp_dir, GError **error)
{
	const OstickMember *part;
	g_auto(OstickFd) dir_fd = -1;
	g_auto(OstickFd) null_fd = -1;
	StagingSink staging = {sink, user_data, -1};
	g_auto(OstickFd) member_fd = -1;

	g_return_val_if_fail(reader->state == STATE_SUPERBLOCK, FALSE);
	g_return_val_if_fail(index < reader->manifest->n_parts, FALSE);
	part = &reader->manifest->parts[index];
	dir_fd = open(tmp_dir ? tmp_dir : g_get_tmp_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return ostick_throw_errno(error, "%s", tmp_dir ? tmp_dir : g_get_tmp_dir());
	member_fd = staging.fd = ostick_open_anonymous_tmpfile(dir_fd, error);
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (member_fd < 0 || null_fd < 0)
		return member_fd < 0 ? FALSE : ostick_throw_errno(error, "/dev/null");
	/* The decoder sees the member only once its hash matched (FORMAT.md §5.4, §5.5). */
	if (!ostick_bundle_reader_read_part(reader, index, stage_chunk, &staging, error))
		return FALSE;
	if (lseek(member_fd, 0, SEEK_SET) < 0)
		return ostick_throw_errno(error, "staging part %u", index);
	/* The branch conversion of `zstd-x86` cannot fail, so the frame alone is checked. */
	if (!(ostick_encoding_is_zstd(part->encoding)
			    ? ostick_zstd_decode_fd(member_fd, null_fd, part->payload_size, FALSE,
				      TRUE, reader->cancellable, error)
			    : decode_xz_to_nothing(reader, index, member_fd, error)))
		return g_prefix_error(error, "part %u: ", index), FALSE;
	return TRUE;
}

/* Reads and discards up to @limit bytes of a pipe or socket, so that its writer does not die of
 * SIGPIPE once the reader is done. Regular files are left alone. */
static void
drain(int fd, guint64 limit)
{
	struct stat st;
	guint8 buf[64 * 1024];
	guint64 total = 0;

	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode))
		return;
	while (total < limit) {
		gsize n = 0;

		if (!ostick_read_all(fd, buf, (gsize)MIN(sizeof buf, limit - total), &n, NULL) ||
			n == 0)
			return;
		total += n;
	}
}

void
ostick_bundle_reader_drain(OstickBundleReader *reader)
{
	const OstickManifest *m = reader->manifest;
	guint64 limit;

	g_return_if_fail(reader != NULL);
	/* Only what a verified manifest declares: an unauthenticated sender gets nothing. */
	if (!reader->verified || m == NULL)
		return;
	limit = m->superblock.size + DRAIN_TAR_SLACK * (m->n_parts + 1);
	for (guint i = 0; i < m->n_parts; i++)
		limit += m->parts[i].size;
	drain(reader->fd, limit);
}

gboolean
ostick_bundle_reader_finish(OstickBundleReader *reader, GError **error)
{
	struct archive_entry *entry = NULL;
	int r;

	g_return_val_if_fail(reader->state == STATE_SUPERBLOCK, FALSE);
	if (reader->next_part != reader->manifest->n_parts)
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "%u of %u parts read",
			reader->next_part, reader->manifest->n_parts);
	r = archive_read_next_header(reader->archive, &entry);
	if (r == ARCHIVE_OK) {
		g_autofree char *shown = shown_name(archive_entry_pathname(entry));

		reader->state = STATE_FAILED;
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"unexpected member '%s' after the last part", shown);
	}
	if (r != ARCHIVE_EOF)
		return throw_archive(reader, "end of bundle", error);
	drain(reader->fd, DRAIN_MAX);
	reader->state = STATE_DONE;
	return TRUE;
}

guint64
ostick_bundle_reader_get_bytes_read(const OstickBundleReader *reader)
{
	la_int64_t n = archive_filter_bytes(reader->archive, -1);

	return n > 0 ? (guint64)n : 0;
}
