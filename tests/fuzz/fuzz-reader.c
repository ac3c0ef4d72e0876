/* fuzz-reader.c: the whole bundle reader (tar container through libarchive, signature block,
 * manifest, superblock, every part hashed) on arbitrary bytes, through the inspection path
 * (no signature required, so the fuzzer reaches the later stages). */
#include "fuzz-common.h"
#include "ostick-bundle-reader.h"
#include "ostick-cleanup.h"
#include "ostick-file.h"

#include <sys/mman.h>
#include <unistd.h>

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

static gboolean
discard(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	return TRUE;
}

static void
read_bundle(int fd)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OstickBundleReader) reader = ostick_bundle_reader_new(fd, NULL, &error);
	const OstickManifest *m;

	if (reader == NULL || !ostick_bundle_reader_read_unverified(reader, &error))
		return;
	m = ostick_bundle_reader_get_manifest(reader);
	if (ostick_bundle_reader_read_superblock(reader, &error) == NULL)
		return;
	for (guint i = 0; i < m->n_parts; i++) {
		if (!ostick_bundle_reader_read_part(reader, i, discard, NULL, &error))
			return;
	}
	(void)ostick_bundle_reader_finish(reader, &error);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_auto(OstickFd) fd = memfd_create("bundle", MFD_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	g_assert_true(ostick_write_all(fd, data, size, NULL));
	g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
	read_bundle(fd);
	return 0;
}
