/* fuzz-common.h: shared setup for the libFuzzer targets. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Criticals (failed g_return_if_fail guards) are bugs too: make them crash. */
static inline void
fuzz_init(void)
{
	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	g_log_set_debug_enabled(FALSE);
}
