/* ostick-branch.c: the x86 branch conversion (FORMAT.md §5.8). */
#include "ostick-branch.h"

#include <string.h>

#define OPCODE_CALL 0xE8
#define OPCODE_JMP 0xE9
/* An unconverted opcode's test byte lies within the displacement of an opcode this close
 * after it, so such an opcode must stay too: otherwise the reader, which sees the converted
 * displacement there, would decide the first one differently. */
#define BLOCKED_DISTANCE 3
#define STREAM_BUFFER (64 * 1024)

void
ostick_branch_converter_init(OstickBranchConverter *conv, gboolean encode)
{
	*conv = (OstickBranchConverter){encode, 0, 0};
}

/* Only displacements within ±16 MiB (top byte 0x00 or 0xFF) look like real calls. */
static gboolean
is_near(guint8 top)
{
	return top == 0x00 || top == 0xFF;
}

static void
convert_at(guint8 *displacement, guint32 next_offset, gboolean encode)
{
	guint32 value = (guint32)displacement[0] | (guint32)displacement[1] << 8 |
			(guint32)displacement[2] << 16 | (guint32)displacement[3] << 24;

	value = encode ? value + next_offset : value - next_offset;
	/* Keep 25 bits, sign-extended: the top byte stays 0x00 or 0xFF, so the reader takes
	 * the same decision here as the writer. */
	value &= 0x01FFFFFF;
	if (value & 0x01000000)
		value |= 0xFF000000;
	displacement[0] = (guint8)value;
	displacement[1] = (guint8)(value >> 8);
	displacement[2] = (guint8)(value >> 16);
	displacement[3] = (guint8)(value >> 24);
}

gsize
ostick_branch_convert(OstickBranchConverter *conv, guint8 *buf, gsize len, gboolean at_end)
{
	gsize i = 0;

	while (i + OSTICK_BRANCH_LOOKAHEAD <= len) {
		guint64 pos = conv->pos + i;

		if (buf[i] != OPCODE_CALL && buf[i] != OPCODE_JMP) {
			i++;
			continue;
		}
		if ((conv->last_opcode == 0 || pos + 1 - conv->last_opcode > BLOCKED_DISTANCE) &&
			is_near(buf[i + 4])) {
			convert_at(buf + i + 1, (guint32)(pos + OSTICK_BRANCH_LOOKAHEAD),
				conv->encode);
			i += OSTICK_BRANCH_LOOKAHEAD;
		} else {
			conv->last_opcode = pos + 1;
			i++;
		}
	}
	if (at_end)
		i = len;
	conv->pos += i;
	return i;
}

struct _OstickBranchStream {
	OstickBranchConverter conv;
	OstickChunkFunc sink;
	gpointer user_data;
	guint8 *buf;
	gsize held; /* undecided bytes at the start of buf */
};

OstickBranchStream *
ostick_branch_stream_new(gboolean encode, OstickChunkFunc sink, gpointer user_data)
{
	OstickBranchStream *stream = g_new0(OstickBranchStream, 1);

	ostick_branch_converter_init(&stream->conv, encode);
	stream->sink = sink;
	stream->user_data = user_data;
	stream->buf = g_malloc(STREAM_BUFFER);
	return stream;
}

static gboolean
convert_held(OstickBranchStream *stream, gboolean at_end, GError **error)
{
	gsize done = ostick_branch_convert(&stream->conv, stream->buf, stream->held, at_end);

	if (done > 0 && !stream->sink(stream->buf, done, stream->user_data, error))
		return FALSE;
	memmove(stream->buf, stream->buf + done, stream->held - done);
	stream->held -= done;
	return TRUE;
}

gboolean
ostick_branch_stream_write(
	OstickBranchStream *stream, const guint8 *data, gsize len, GError **error)
{
	while (len > 0) {
		gsize n = MIN(len, STREAM_BUFFER - stream->held);

		memcpy(stream->buf + stream->held, data, n);
		stream->held += n;
		data += n;
		len -= n;
		if (!convert_held(stream, FALSE, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
ostick_branch_stream_sink(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	return ostick_branch_stream_write(user_data, data, len, error);
}

gboolean
ostick_branch_stream_finish(OstickBranchStream *stream, GError **error)
{
	return convert_held(stream, TRUE, error);
}

void
ostick_branch_stream_free(OstickBranchStream *stream)
{
	if (stream == NULL)
		return;
	g_free(stream->buf);
	g_free(stream);
}
