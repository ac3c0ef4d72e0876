/* ostick-tar-headers.c: a member's raw tar header chain, checked against FORMAT.md §2.3. */
#include "ostick-tar-headers.h"

#include "ostick-error.h"

#include <string.h>

#define TAR_BLOCK 512
#define TYPEFLAG_OFFSET 156
#define SIZE_OFFSET 124
#define SIZE_LEN 12
#define MAX_EXTENSIONS 16

struct _OstickTarWindow {
	guint8 *ring; /* OSTICK_TAR_WINDOW bytes */
	guint64 end; /* stream offset just after the last byte added */
};

OstickTarWindow *
ostick_tar_window_new(void)
{
	OstickTarWindow *window = g_new0(OstickTarWindow, 1);

	window->ring = g_malloc(OSTICK_TAR_WINDOW);
	return window;
}

void
ostick_tar_window_free(OstickTarWindow *window)
{
	if (window == NULL)
		return;
	g_free(window->ring);
	g_free(window);
}

void
ostick_tar_window_add(OstickTarWindow *window, const guint8 *data, gsize len)
{
	if (len > OSTICK_TAR_WINDOW) {
		data += len - OSTICK_TAR_WINDOW;
		window->end += len - OSTICK_TAR_WINDOW;
		len = OSTICK_TAR_WINDOW;
	}
	while (len > 0) {
		gsize at = window->end % OSTICK_TAR_WINDOW;
		gsize n = MIN(len, OSTICK_TAR_WINDOW - at);

		memcpy(window->ring + at, data, n);
		window->end += n;
		data += n;
		len -= n;
	}
}

/* Copies stream bytes [@offset, @offset + @len) out of the window, if it still holds them. */
static gboolean
window_get(OstickTarWindow *window, guint64 offset, gsize len, guint8 *out)
{
	guint64 start = window->end > OSTICK_TAR_WINDOW ? window->end - OSTICK_TAR_WINDOW : 0;

	if (offset < start || offset + len > window->end)
		return FALSE;
	while (len > 0) {
		gsize at = offset % OSTICK_TAR_WINDOW;
		gsize n = MIN(len, OSTICK_TAR_WINDOW - at);

		memcpy(out, window->ring + at, n);
		out += n;
		offset += n;
		len -= n;
	}
	return TRUE;
}

/* An octal size field (NUL- or space-terminated); base-256 sizes are too large for a header. */
static gboolean
parse_size(const guint8 *field, guint64 *out)
{
	guint64 v = 0;
	gsize i = 0;

	while (i < SIZE_LEN && field[i] == ' ')
		i++;
	for (; i < SIZE_LEN && field[i] >= '0' && field[i] <= '7'; i++) {
		if (v > (G_MAXUINT64 >> 3))
			return FALSE;
		v = v * 8 + (guint64)(field[i] - '0');
	}
	if (i < SIZE_LEN && field[i] != '\0' && field[i] != ' ')
		return FALSE;
	*out = v;
	return TRUE;
}

/* Whether the pax records at @offset name a GNU.sparse keyword. Records are "LEN KEY=VALUE\n";
 * libarchive has parsed them already, so a malformed one only ends the scan. */
static gboolean
pax_names_sparse(OstickTarWindow *window, guint64 offset, guint64 size)
{
	g_autofree guint8 *data = g_malloc(size + 1);
	const char *p = (const char *)data, *end = (const char *)data + size;

	if (!window_get(window, offset, size, data))
		return FALSE; /* the next header is then out of the window too: refused there */
	data[size] = '\0';
	while (p < end) {
		char *key = NULL;
		guint64 len = g_ascii_strtoull(p, &key, 10);

		if (key == p || *key != ' ' || len == 0 || len > (guint64)(end - p))
			return FALSE;
		if (g_str_has_prefix(key + 1, "GNU.sparse."))
			return TRUE;
		p += len;
	}
	return FALSE;
}

static gboolean
throw_type(const char *name, guint8 flag, GError **error)
{
	if (flag == 'S')
		return ostick_throw(error, OSTICK_ERROR_FORMAT, "member '%s' is sparse", name);
	if (flag >= 0x21 && flag < 0x7f)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"member '%s' is not a regular file (tar type '%c')", name, flag);
	return ostick_throw(error, OSTICK_ERROR_FORMAT,
		"member '%s' is not a regular file (tar type 0x%02x)", name, flag);
}

gboolean
ostick_tar_window_check_member(
	OstickTarWindow *window, guint64 header_offset, const char *name, GError **error)
{
	guint64 offset = header_offset;

	for (guint i = 0; i <= MAX_EXTENSIONS; i++) {
		guint8 block[TAR_BLOCK];
		guint8 flag;
		guint64 size;

		if (!window_get(window, offset, TAR_BLOCK, block))
			return ostick_throw(error, OSTICK_ERROR_FORMAT,
				"member '%s': its extended headers are longer than %d bytes", name,
				OSTICK_TAR_WINDOW);
		flag = block[TYPEFLAG_OFFSET];
		if (flag == '0' || flag == '\0' || flag == '7')
			return TRUE;
		if (flag != 'x' && flag != 'g' && flag != 'L' && flag != 'K')
			return throw_type(name, flag, error);
		if (!parse_size(block + SIZE_OFFSET, &size) || size > OSTICK_TAR_WINDOW)
			return ostick_throw(error, OSTICK_ERROR_FORMAT,
				"member '%s': an extended header of a size out of bounds", name);
		if (flag == 'x' && pax_names_sparse(window, offset + TAR_BLOCK, size))
			return ostick_throw(
				error, OSTICK_ERROR_FORMAT, "member '%s' is sparse", name);
		offset += TAR_BLOCK + (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	}
	return ostick_throw(error, OSTICK_ERROR_FORMAT,
		"member '%s': more than %d extended headers", name, MAX_EXTENSIONS);
}
