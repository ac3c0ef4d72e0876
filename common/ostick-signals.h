/* ostick-signals.h: turn SIGINT/SIGTERM/SIGHUP into a GCancellable, so that long operations
 * stop at a safe point and clean up instead of dying mid-write. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Blocks the signals in the calling thread (call it before starting any thread, so that every
 * thread inherits the mask) and starts a thread that cancels @cancellable (borrowed; must live
 * until exit) on the first signal. A second signal ends the process at once (128 + signal). */
void ostick_cancel_on_signals(GCancellable *cancellable);

G_END_DECLS
