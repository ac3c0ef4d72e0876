/* ostick-zstd.c: zstd frames for the `zstd` and `zstd-x86` part encodings. */
#include "ostick-zstd.h"

#include "ostick-branch.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "ostick-format.h"

#include <sys/mman.h>
/* For ZSTD_createDCtx_advanced(), in every libzstd 1.x (Debian 12: 1.5.4). */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#define WINDOW_LOG_MIN 17 /* 128 KiB: below that the window buys nothing */

struct _OstickZstdWriter {
	ZSTD_CCtx *cctx;
	int fd;
	guint8 *out;
	gsize out_size;
	guint64 input;
	guint64 output;
};

static gboolean
throw_zstd(GError **error, size_t code, const char *what)
{
	return ostick_throw(error, OSTICK_ERROR_CORRUPT, "%s: %s", what, ZSTD_getErrorName(code));
}

/* The smallest window that holds @size_hint bytes, so a small part needs little memory to
 * decode, within the decoders' limit. */
static int
window_log_for(guint64 size_hint)
{
	int log = WINDOW_LOG_MIN;

	while (log < OSTICK_ZSTD_WINDOW_LOG_MAX && (G_GUINT64_CONSTANT(1) << log) < size_hint)
		log++;
	return log;
}

OstickZstdWriter *
ostick_zstd_writer_new(int fd, int level, guint workers, guint64 size_hint, GError **error)
{
	g_autoptr(OstickZstdWriter) writer = g_new0(OstickZstdWriter, 1);
	size_t r;

	writer->fd = fd;
	writer->cctx = ZSTD_createCCtx();
	writer->out_size = ZSTD_CStreamOutSize();
	writer->out = g_malloc(writer->out_size);
	/* nbWorkers >= 1 always: zstd's threaded output is the same for any number of workers,
	 * but differs from the single-threaded one. */
	if (ZSTD_isError(
		    r = ZSTD_CCtx_setParameter(writer->cctx, ZSTD_c_compressionLevel, level)) ||
		ZSTD_isError(r = ZSTD_CCtx_setParameter(
				     writer->cctx, ZSTD_c_windowLog, window_log_for(size_hint))) ||
		ZSTD_isError(r = ZSTD_CCtx_setParameter(
				     writer->cctx, ZSTD_c_nbWorkers, (int)MAX(workers, 1))) ||
		ZSTD_isError(r = ZSTD_CCtx_setParameter(writer->cctx, ZSTD_c_checksumFlag, 0))) {
		ostick_throw(error, OSTICK_ERROR_VERSION, "zstd level %d: %s", level,
			ZSTD_getErrorName(r));
		return NULL;
	}
	return g_steal_pointer(&writer);
}

void
ostick_zstd_writer_free(OstickZstdWriter *writer)
{
	if (writer == NULL)
		return;
	ZSTD_freeCCtx(writer->cctx);
	g_free(writer->out);
	g_free(writer);
}

/* Feeds @in (possibly empty) with @mode and writes the output until zstd has no more for now
 * (continue) or the frame is complete (end). */
static gboolean
compress(OstickZstdWriter *writer, ZSTD_inBuffer *in, ZSTD_EndDirective mode, GError **error)
{
	for (;;) {
		ZSTD_outBuffer out = {writer->out, writer->out_size, 0};
		size_t left = ZSTD_compressStream2(writer->cctx, &out, in, mode);

		if (ZSTD_isError(left))
			return throw_zstd(error, left, "zstd compression");
		if (writer->fd >= 0 && !ostick_write_all(writer->fd, writer->out, out.pos, error))
			return FALSE;
		writer->output += out.pos;
		if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size)
			return TRUE;
	}
}

gboolean
ostick_zstd_writer_write(OstickZstdWriter *writer, const void *data, gsize len, GError **error)
{
	ZSTD_inBuffer in = {data, len, 0};

	writer->input += len;
	return compress(writer, &in, ZSTD_e_continue, error);
}

gboolean
ostick_zstd_writer_finish(OstickZstdWriter *writer, guint64 *out_input, GError **error)
{
	ZSTD_inBuffer in = {NULL, 0, 0};

	if (!compress(writer, &in, ZSTD_e_end, error))
		return FALSE;
	*out_input = writer->input;
	return TRUE;
}

guint64
ostick_zstd_writer_get_output_size(OstickZstdWriter *writer)
{
	return writer->output;
}

/* The decoder's window buffers come straight from mmap and go back to the kernel when freed.
 * Through malloc, glibc's adaptive mmap threshold keeps a freed window (a part's size) in the
 * heap of whichever thread decoded it: one or two parts' worth of RSS while libostree maps the
 * next part. */
#define DIRECT_MAP_MIN (1024 * 1024)
#define ALLOC_HEADER 64 /* holds the size; keeps the buffer 64-byte aligned */

static void *
decoder_alloc(void *opaque, size_t size)
{
	gsize total = size + ALLOC_HEADER;
	guint8 *base;

	if (total < DIRECT_MAP_MIN) {
		base = malloc(total);
	} else {
		base = mmap(
			NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (base == MAP_FAILED)
			base = NULL;
	}
	if (base == NULL)
		return NULL;
	*(gsize *)base = total;
	return base + ALLOC_HEADER;
}

static void
decoder_free(void *opaque, void *address)
{
	guint8 *base = (guint8 *)address - ALLOC_HEADER;
	gsize total;

	if (address == NULL)
		return;
	total = *(gsize *)base;
	if (total < DIRECT_MAP_MIN)
		free(base);
	else
		munmap(base, total);
}

typedef struct {
	ZSTD_DCtx *dctx;
	OstickChunkFunc sink;
	gpointer sink_data;
	guint64 expected;
	guint64 written;
	guint8 *out;
	gsize out_size;
} Decoder;

/* Decodes what @in holds; returns zstd's hint (0 once the frame is complete) in @out_left. */
static gboolean
decode_buffer(Decoder *d, ZSTD_inBuffer *in, size_t *out_left, GError **error)
{
	do {
		ZSTD_outBuffer out = {d->out, d->out_size, 0};
		size_t left = ZSTD_decompressStream(d->dctx, &out, in);

		if (ZSTD_isError(left))
			return throw_zstd(error, left, "zstd part");
		if (out.pos > d->expected - d->written)
			return ostick_throw(error, OSTICK_ERROR_CORRUPT,
				"zstd part decodes to more than its payload-size %" G_GUINT64_FORMAT,
				d->expected);
		if (out.pos > 0 && !d->sink(d->out, out.pos, d->sink_data, error))
			return FALSE;
		d->written += out.pos;
		*out_left = left;
		/* A full output buffer may hide more output for the same input. */
		if (left == 0 || (in->pos == in->size && out.pos < out.size))
			return TRUE;
	} while (TRUE);
}

gboolean
ostick_zstd_decode(int in_fd, guint64 expected_size, gboolean x86_branches, gboolean release_input,
	OstickChunkFunc sink, gpointer user_data, GCancellable *cancellable, GError **error)
{
	static const ZSTD_customMem direct = {decoder_alloc, decoder_free, NULL};
	g_autoptr(ZSTD_DCtx) dctx = ZSTD_createDCtx_advanced(direct);
	gsize in_size = ZSTD_DStreamInSize();
	g_autofree guint8 *in_buf = g_malloc(in_size);
	g_autofree guint8 *out_buf = g_malloc(ZSTD_DStreamOutSize());
	g_autoptr(OstickBranchStream) branches =
		x86_branches ? ostick_branch_stream_new(FALSE, sink, user_data) : NULL;
	Decoder d = {dctx, branches ? ostick_branch_stream_sink : sink, branches ?: user_data,
		expected_size, 0, out_buf, ZSTD_DStreamOutSize()};
	size_t left = 1;
	guint64 released = 0;

	if (dctx == NULL)
		return ostick_throw(error, OSTICK_ERROR_CORRUPT, "zstd: out of memory");

	/* The window bounds the decoder's memory: refuse frames asking for more. */
	if (ZSTD_isError(
		    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, OSTICK_ZSTD_WINDOW_LOG_MAX)))
		return ostick_throw(error, OSTICK_ERROR_CORRUPT, "zstd: cannot bound the window");
	for (;;) {
		gsize n = 0;
		ZSTD_inBuffer in = {in_buf, 0, 0};

		if (g_cancellable_set_error_if_cancelled(cancellable, error) ||
			!ostick_read_all(in_fd, in_buf, in_size, &n, error))
			return FALSE;
		if (n == 0)
			break;
		if (left == 0)
			return ostick_throw(error, OSTICK_ERROR_CORRUPT,
				"zstd part: bytes after the end of the frame");
		in.size = n;
		if (!decode_buffer(&d, &in, &left, error))
			return FALSE;
		if (release_input)
			ostick_release_consumed(in_fd, &released);
		if (left == 0 && in.pos < in.size)
			return ostick_throw(error, OSTICK_ERROR_CORRUPT,
				"zstd part: bytes after the end of the frame");
	}
	if (left != 0)
		return ostick_throw(error, OSTICK_ERROR_CORRUPT, "zstd part: truncated frame");
	if (d.written != expected_size)
		return ostick_throw(error, OSTICK_ERROR_CORRUPT,
			"zstd part decodes to %" G_GUINT64_FORMAT
			" bytes, its payload-size is %" G_GUINT64_FORMAT,
			d.written, expected_size);
	return branches == NULL || ostick_branch_stream_finish(branches, error);
}

static gboolean
write_to_fd(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	return ostick_write_all(GPOINTER_TO_INT(user_data), data, len, error);
}

gboolean
ostick_zstd_decode_fd(int in_fd, int out_fd, guint64 expected_size, gboolean x86_branches,
	gboolean release_input, GCancellable *cancellable, GError **error)
{
	return ostick_zstd_decode(in_fd, expected_size, x86_branches, release_input, write_to_fd,
		GINT_TO_POINTER(out_fd), cancellable, error);
}
