/* fuzz-zstd.c: the bounded zstd part decoder on arbitrary frames. The first 4 bytes are the
 * payload-size (little-endian, at most 16 MiB here), the rest the frame. Whatever it is given,
 * it must never write more than payload-size bytes, and succeed only on exactly that many. */
#include "fuzz-common.h"
#include "ostick-cleanup.h"
#include "ostick-format.h"
#include "ostick-zstd.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_auto(OstickFd) in = memfd_create("frame", MFD_CLOEXEC);
	g_auto(OstickFd) out = memfd_create("payload", MFD_CLOEXEC);
	guint64 expected;
	struct stat st;
	gboolean ok;

	if (size < 4)
		return 0;
	expected = ostick_load_le32(data) % (16 * 1024 * 1024) + 1;
	g_assert_cmpint(write(in, data + 4, size - 4), ==, (ssize_t)(size - 4));
	g_assert_cmpint(lseek(in, 0, SEEK_SET), ==, 0);
	/* The top bit picks `zstd-x86`, whose conversion runs on whatever the frame held. */
	ok = ostick_zstd_decode_fd(
		in, out, expected, (ostick_load_le32(data) >> 31) != 0, FALSE, NULL, &error);
	g_assert_cmpint(fstat(out, &st), ==, 0);
	g_assert_cmpuint((guint64)st.st_size, <=, expected);
	if (ok)
		g_assert_cmpuint((guint64)st.st_size, ==, expected);
	else
		g_assert_nonnull(error);
	return 0;
}
