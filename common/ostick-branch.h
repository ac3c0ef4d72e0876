/* ostick-branch.h: the x86 branch conversion of the `zstd-x86` part encoding (FORMAT.md §5.8).
 *
 * Code calls the same function from many places with a different relative displacement each
 * time; rewritten as absolute targets, those calls repeat byte for byte, which zstd finds.
 * The conversion keeps the length and is its own inverse in the other direction. */
#pragma once

#include "ostick-bundle-reader.h"

#include <glib.h>

G_BEGIN_DECLS

/* Bytes a conversion may need after a position before it can decide it: the opcode and its
 * 4-byte displacement. */
#define OSTICK_BRANCH_LOOKAHEAD 5

typedef struct {
	gboolean encode; /* TRUE: relative to absolute (the writer); FALSE: back (the reader) */
	guint64 pos; /* stream offset of the next byte to decide */
	guint64 last_opcode; /* 1 + stream offset of the last E8/E9 left as it was; 0: none */
} OstickBranchConverter;

void ostick_branch_converter_init(OstickBranchConverter *conv, gboolean encode);

/* Converts @buf in place: @len bytes of the stream from offset conv->pos on. Returns how many
 * leading bytes are final; the others (fewer than OSTICK_BRANCH_LOOKAHEAD) are undecided and
 * must start the next call's buffer, with more data after them, or, at the end of the stream,
 * be passed with @at_end, which makes every byte final. */
gsize ostick_branch_convert(OstickBranchConverter *conv, guint8 *buf, gsize len, gboolean at_end);

/* A converter for a stream that arrives in chunks of any size. */
typedef struct _OstickBranchStream OstickBranchStream;

/* (transfer full) */
OstickBranchStream *ostick_branch_stream_new(
	gboolean encode, OstickChunkFunc sink, gpointer user_data);
/* Converts @data and hands on everything that is final; an error from the sink stops it. */
gboolean ostick_branch_stream_write(
	OstickBranchStream *stream, const guint8 *data, gsize len, GError **error);
/* ostick_branch_stream_write() as an OstickChunkFunc, @user_data being the stream. */
gboolean ostick_branch_stream_sink(
	const guint8 *data, gsize len, gpointer user_data, GError **error);
/* The end of the stream: hands on the undecided rest. */
gboolean ostick_branch_stream_finish(OstickBranchStream *stream, GError **error);
void ostick_branch_stream_free(OstickBranchStream *stream);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickBranchStream, ostick_branch_stream_free)

G_END_DECLS
