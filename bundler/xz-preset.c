/* xz-preset.c: the xz preset of libostree's delta parts, when ostick re-encodes them.
 *
 * libostree 2022.7 compresses every static-delta part with xz preset 8 (lzma_easy_encoder() in
 * ostree-lzma-compressor.c; the generator's documented "compression" parameter is never read).
 * For the zstd encoding that xz stream only lives until the part is decoded and re-encoded, yet
 * preset 8 is most of the creation time: about 80 s of CPU for a 114 MB tree, against 9 s at
 * preset 0. ostick-bundle exports this lzma_easy_encoder() (the Makefile's
 * --export-dynamic-symbol), so the dynamic linker binds libostree's call to it ahead of
 * liblzma's; it forwards to liblzma's with the preset overridden while one is set.
 *
 * Nothing depends on it for correctness: where libostree does not bind to it (a static link, a
 * test program without the export), the parts are preset 8 and creation is slower. ostree-xz
 * bundles never set an override, so their parts stay what stock ostree writes. */
#include "delta.h"

#include <dlfcn.h>
#include <lzma.h>

static gint preset_override = -1;
static gint calls_overridden;

typedef lzma_ret (*EasyEncoderFn)(lzma_stream *strm, uint32_t preset, lzma_check check);

void
ostick_delta_override_xz_preset(int preset)
{
	g_atomic_int_set(&preset_override, preset);
}

guint
ostick_delta_xz_overridden_count(void)
{
	return (guint)g_atomic_int_get(&calls_overridden);
}

__attribute__((visibility("default"))) lzma_ret
lzma_easy_encoder(lzma_stream *strm, uint32_t preset, lzma_check check)
{
	static EasyEncoderFn liblzma_easy_encoder;
	EasyEncoderFn next = g_atomic_pointer_get(&liblzma_easy_encoder);
	gint override = g_atomic_int_get(&preset_override);

	if (next == NULL) {
		next = (EasyEncoderFn)dlsym(RTLD_NEXT, "lzma_easy_encoder");
		if (next == NULL)
			return LZMA_PROG_ERROR;
		g_atomic_pointer_set(&liblzma_easy_encoder, next);
	}
	if (override >= 0) {
		g_atomic_int_inc(&calls_overridden);
		preset = (uint32_t) override;
	}
	return next(strm, preset, check);
}
