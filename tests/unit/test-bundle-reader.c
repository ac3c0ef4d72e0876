/* test-bundle-reader.c: the sequential reader on every truncation and every flipped byte of a
 * real bundle (format-spec/vectors/valid/001-scratch.ostick), and through a pipe fed in small
 * irregular chunks.
 *
 * The property: a damaged bundle is refused with an OSTICK_ERROR, or the damage fell on bytes
 * that carry nothing (tar padding, the end-of-archive blocks) and the reader yields exactly the
 * signed manifest of the original. A byte of a member's data or of a tar header is never
 * accepted changed.
 */
#include "ostick-bundle-reader.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "testlib.h"

#include <string.h>
#include <unistd.h>

#define TAR_BLOCK 512

typedef struct {
	GBytes *bundle;
	GBytes *manifest; /* the original's signed manifest bytes */
	OstickKeyring *keyring;
	GArray *meaningful; /* gboolean per byte: in a tar header or a member's data */
	gsize payload_end; /* end of the last member's data */
} Fixture;

/* Marks the header blocks and member data of a ustar stream (what libarchive reads). */
static void
map_tar(Fixture *f)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(f->bundle, &len);
	gsize off = 0;

	f->meaningful = g_array_sized_new(FALSE, TRUE, sizeof(gboolean), (guint)len);
	g_array_set_size(f->meaningful, (guint)len);
	while (off + TAR_BLOCK <= len && data[off] != '\0') {
		g_autofree char *size_field = g_strndup((const char *)data + off + 124, 12);
		guint64 size = g_ascii_strtoull(size_field, NULL, 8);

		for (gsize i = off; i < off + TAR_BLOCK + size; i++)
			g_array_index(f->meaningful, gboolean, i) = TRUE;
		f->payload_end = off + TAR_BLOCK + size;
		off += TAR_BLOCK + (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	}
	g_assert_cmpuint(f->payload_end, >, 4 * TAR_BLOCK);
}

/* The whole reader, as ostick-apply verify runs it. Returns the manifest bytes on success. */
static GBytes *
read_all(int fd, const OstickKeyring *keyring, GError **error)
{
	g_autoptr(OstickBundleReader) reader = ostick_bundle_reader_new(fd, NULL, error);
	const OstickManifest *m;

	if (reader == NULL || !ostick_bundle_reader_verify(reader, keyring, error) ||
		ostick_bundle_reader_read_superblock(reader, error) == NULL)
		return NULL;
	m = ostick_bundle_reader_get_manifest(reader);
	for (guint i = 0; i < m->n_parts; i++) {
		if (!ostick_bundle_reader_read_part(reader, i, NULL, NULL, error))
			return NULL;
	}
	if (!ostick_bundle_reader_finish(reader, error))
		return NULL;
	return g_bytes_ref(ostick_bundle_reader_get_manifest_bytes(reader));
}

static GBytes *
read_bytes(GBytes *bundle, const OstickKeyring *keyring, GError **error)
{
	g_auto(OstickFd) fd = testlib_fd_from_bytes(bundle);

	return read_all(fd, keyring, error);
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autofree char *path = testlib_src_path("format-spec/vectors/valid/001-scratch.ostick");
	g_autoptr(GError) error = NULL;

	f->bundle = testlib_read_file(path);
	f->keyring = testlib_keyring("test-ed25519.pub.pem", NULL);
	f->manifest = read_bytes(f->bundle, f->keyring, &error);
	g_assert_no_error(error);
	g_assert_nonnull(f->manifest);
	map_tar(f);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	g_bytes_unref(f->bundle);
	g_bytes_unref(f->manifest);
	ostick_keyring_free(f->keyring);
	g_array_unref(f->meaningful);
}

/* @damaged (a changed copy) must be refused with an OSTICK_ERROR, unless @may_pass; if it is
 * accepted, it must say exactly what the original says. Returns whether it was accepted. */
static gboolean
assert_refused_or_same(Fixture *f, GBytes *damaged, gboolean may_pass, const char *what)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) manifest = read_bytes(damaged, f->keyring, &error);

	if (manifest == NULL) {
		g_assert_nonnull(error);
		if (error->domain != OSTICK_ERROR)
			g_error("%s: refused with a non-ostick error: %s", what, error->message);
		return FALSE;
	}
	if (!may_pass)
		g_error("%s: accepted", what);
	g_assert_true(g_bytes_equal(manifest, f->manifest));
	return TRUE;
}

static void
test_truncated_every_length(Fixture *f, gconstpointer data)
{
	gsize len = g_bytes_get_size(f->bundle);
	guint accepted = 0;

	for (gsize cut = 0; cut < len; cut++) {
		g_autoptr(GBytes) damaged = g_bytes_new_from_bytes(f->bundle, 0, cut);
		g_autofree char *what = g_strdup_printf("truncated to %zu bytes", cut);

		/* Without its end-of-archive blocks a complete bundle is still complete. */
		accepted += assert_refused_or_same(f, damaged, cut >= f->payload_end, what);
	}
	g_test_message("%zu truncations, %u accepted (all past the last member)", len, accepted);
}

static void
test_flipped_every_byte(Fixture *f, gconstpointer data)
{
	gsize len = 0;
	const guint8 *orig = g_bytes_get_data(f->bundle, &len);
	g_autofree guint8 *copy = g_memdup2(orig, len);
	guint accepted = 0;

	for (gsize off = 0; off < len; off++) {
		gboolean meaningful = g_array_index(f->meaningful, gboolean, off);
		g_autofree char *what = g_strdup_printf("bit flipped at offset %zu", off);
		g_autoptr(GBytes) damaged = NULL;

		copy[off] ^= 0x01;
		damaged = g_bytes_new(copy, len);
		accepted += assert_refused_or_same(f, damaged, !meaningful, what);
		copy[off] = orig[off];
	}
	g_test_message("%zu flips, %u accepted (padding only)", len, accepted);
}

typedef struct {
	int fd;
	GBytes *data;
} Feeder;

/* Writes the bundle in chunks of 1 to 997 bytes, like a slow transport. */
static gpointer
feed(gpointer user_data)
{
	Feeder *feeder = user_data;
	gsize len = 0;
	const guint8 *p = g_bytes_get_data(feeder->data, &len);
	gsize off = 0, step = 1;

	while (off < len) {
		gsize n = MIN(step, len - off);

		g_assert_true(ostick_write_all(feeder->fd, p + off, n, NULL));
		off += n;
		step = step * 7 % 997 + 1;
	}
	close(feeder->fd);
	return NULL;
}

static void
test_pipe_irregular_chunks(Fixture *f, gconstpointer data)
{
	int fds[2];
	Feeder feeder;
	g_autoptr(GThread) thread = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) manifest = NULL;

	g_assert_cmpint(pipe(fds), ==, 0);
	feeder = (Feeder){fds[1], f->bundle};
	thread = g_thread_new("feeder", feed, &feeder);
	manifest = read_all(fds[0], f->keyring, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(manifest, f->manifest));
	g_thread_join(g_steal_pointer(&thread));
	close(fds[0]);
}

int
main(int argc, char **argv)
{
	testlib_init(&argc, &argv);
	g_test_add("/bundle-reader/truncated/every-length", Fixture, NULL, fixture_set_up,
		test_truncated_every_length, fixture_tear_down);
	g_test_add("/bundle-reader/flipped/every-byte", Fixture, NULL, fixture_set_up,
		test_flipped_every_byte, fixture_tear_down);
	g_test_add("/bundle-reader/pipe/irregular-chunks", Fixture, NULL, fixture_set_up,
		test_pipe_irregular_chunks, fixture_tear_down);
	return g_test_run();
}
