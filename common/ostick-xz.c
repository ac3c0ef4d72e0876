/* ostick-xz.c: bounded decoding of libostree's xz parts, through libarchive (raw, xz filter),
 * and stored (uncompressed) xz streams for libostree to read, through liblzma. */
#include "ostick-xz.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "ostick-superblock.h"

#include <lzma.h>
#include <string.h>
#include <unistd.h>

#define DECODE_CHUNK (1024 * 1024)

guint64
ostick_xz_payload_bound(guint64 decoded_size, guint n_objects)
{
	return decoded_size + decoded_size / 4 + (guint64)n_objects * 4096 + 1024 * 1024;
}

static struct archive *
open_xz_stream(int fd, GError **error)
{
	g_autoptr(OstickArchive) archive = archive_read_new();
	struct archive_entry *entry = NULL;
	char kind = 0;

	if (read(fd, &kind, 1) != 1 || (guint8)kind != OSTICK_DELTA_PART_XZ[0]) {
		ostick_throw(error, OSTICK_ERROR_CORRUPT, "not an xz delta part");
		return NULL;
	}
	if (archive_read_support_filter_xz(archive) != ARCHIVE_OK ||
		archive_read_support_format_raw(archive) != ARCHIVE_OK ||
		archive_read_open_fd(archive, fd, DECODE_CHUNK) != ARCHIVE_OK ||
		archive_read_next_header(archive, &entry) != ARCHIVE_OK) {
		ostick_throw(error, OSTICK_ERROR_CORRUPT, "xz part: %s",
			archive_error_string(archive) ?: "cannot decode");
		return NULL;
	}
	return g_steal_pointer(&archive);
}

gboolean
ostick_xz_decode_part(int fd, guint64 max_size, gboolean release_input, OstickChunkFunc sink,
	gpointer user_data, guint64 *out_size, GCancellable *cancellable, GError **error)
{
	g_autoptr(OstickArchive) xz = open_xz_stream(fd, error);
	g_autofree guint8 *buf = g_malloc(DECODE_CHUNK);
	guint64 total = 0, released = 0;

	if (xz == NULL)
		return FALSE;
	for (;;) {
		la_ssize_t n = archive_read_data(xz, buf, DECODE_CHUNK);

		if (n < 0)
			return ostick_throw(error, OSTICK_ERROR_CORRUPT, "xz part: %s",
				archive_error_string(xz) ?: "stream corrupt");
		if (n == 0)
			break;
		if ((guint64)n > max_size - total)
			return ostick_throw(error, OSTICK_ERROR_CORRUPT,
				"xz part decodes to more than %" G_GUINT64_FORMAT
				" bytes, larger than its decoded size allows (FORMAT.md 5.4)",
				max_size);
		total += (guint64)n;
		if (release_input)
			ostick_release_consumed(fd, &released);
		if (g_cancellable_set_error_if_cancelled(cancellable, error) ||
			!sink(buf, (gsize)n, user_data, error))
			return FALSE;
	}
	if (out_size != NULL)
		*out_size = total;
	return TRUE;
}

/*
 * Stored xz streams: a payload wrapped, not compressed, in the xz container (LZMA2 uncompressed
 * chunks, no integrity check), the cheapest form in which libostree 2022.7 reads a delta part
 * from a stream instead of mapping it (see libostick/apply.c). liblzma makes every structure.
 */
#define STORED_BLOCK_SIZE (1024 * 1024)

struct _OstickXzStoredWriter {
	OstickChunkFunc sink;
	gpointer sink_data;
	lzma_index *index;
	guint8 *block; /* the input of the block being filled */
	gsize block_len;
	guint8 *out;
	gsize out_size;
	guint64 written;
};

static gboolean
throw_lzma(GError **error, lzma_ret code, const char *what)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "xz: %s failed (liblzma %d)", what, code);
	return FALSE;
}

static gboolean
stored_emit(OstickXzStoredWriter *writer, const guint8 *data, gsize len, GError **error)
{
	writer->written += len;
	return writer->sink(data, len, writer->sink_data, error);
}

OstickXzStoredWriter *
ostick_xz_stored_writer_new(OstickChunkFunc sink, gpointer user_data, GError **error)
{
	g_autoptr(OstickXzStoredWriter) writer = g_new0(OstickXzStoredWriter, 1);
	lzma_stream_flags flags = {.version = 0, .check = LZMA_CHECK_NONE};
	guint8 header[LZMA_STREAM_HEADER_SIZE];
	lzma_ret r;

	writer->sink = sink;
	writer->sink_data = user_data;
	writer->index = lzma_index_init(NULL);
	writer->block = g_malloc(STORED_BLOCK_SIZE);
	writer->out_size = lzma_block_buffer_bound(STORED_BLOCK_SIZE);
	writer->out = g_malloc(writer->out_size);
	if (writer->index == NULL) {
		throw_lzma(error, LZMA_MEM_ERROR, "index");
		return NULL;
	}
	if ((r = lzma_stream_header_encode(&flags, header)) != LZMA_OK) {
		throw_lzma(error, r, "stream header");
		return NULL;
	}
	if (!stored_emit(writer, header, sizeof header, error))
		return NULL;
	return g_steal_pointer(&writer);
}

static gboolean
stored_flush_block(OstickXzStoredWriter *writer, GError **error)
{
	lzma_block block = {.version = 0, .check = LZMA_CHECK_NONE};
	size_t out_pos = 0;
	lzma_ret r;

	if (writer->block_len == 0)
		return TRUE;
	r = lzma_block_uncomp_encode(
		&block, writer->block, writer->block_len, writer->out, &out_pos, writer->out_size);
	if (r != LZMA_OK)
		return throw_lzma(error, r, "block");
	r = lzma_index_append(
		writer->index, NULL, lzma_block_unpadded_size(&block), block.uncompressed_size);
	if (r != LZMA_OK)
		return throw_lzma(error, r, "index record");
	writer->block_len = 0;
	return stored_emit(writer, writer->out, out_pos, error);
}

gboolean
ostick_xz_stored_writer_write(
	OstickXzStoredWriter *writer, const guint8 *data, gsize len, GError **error)
{
	while (len > 0) {
		gsize n = MIN(len, STORED_BLOCK_SIZE - writer->block_len);

		memcpy(writer->block + writer->block_len, data, n);
		writer->block_len += n;
		data += n;
		len -= n;
		if (writer->block_len == STORED_BLOCK_SIZE && !stored_flush_block(writer, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
ostick_xz_stored_writer_finish(OstickXzStoredWriter *writer, guint64 *out_size, GError **error)
{
	lzma_stream_flags flags = {.version = 0, .check = LZMA_CHECK_NONE};
	guint8 footer[LZMA_STREAM_HEADER_SIZE];
	size_t index_len = 0;
	lzma_ret r;

	if (!stored_flush_block(writer, error))
		return FALSE;
	flags.backward_size = lzma_index_size(writer->index);
	/* The index of a part's few blocks is far smaller than one block's buffer (else
	 * LZMA_BUF_ERROR). */
	if ((r = lzma_index_buffer_encode(
		     writer->index, writer->out, &index_len, writer->out_size)) != LZMA_OK)
		return throw_lzma(error, r, "index");
	if ((r = lzma_stream_footer_encode(&flags, footer)) != LZMA_OK)
		return throw_lzma(error, r, "stream footer");
	if (!stored_emit(writer, writer->out, index_len, error) ||
		!stored_emit(writer, footer, sizeof footer, error))
		return FALSE;
	if (out_size != NULL)
		*out_size = writer->written;
	return TRUE;
}

void
ostick_xz_stored_writer_free(OstickXzStoredWriter *writer)
{
	if (writer == NULL)
		return;
	if (writer->index != NULL)
		lzma_index_end(writer->index, NULL);
	g_free(writer->block);
	g_free(writer->out);
	g_free(writer);
}
