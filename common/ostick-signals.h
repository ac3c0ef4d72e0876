/* ostick-signals.h: turn SIGINT/SIGTERM/SIGHUP into a GCancellable, so that long operations
 * stop at a safe point and clean up instead of dying mid-write. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Called from the signal thread for every signal after the first. */
typedef void (*OstickSignalFunc)(int signum);

/* Blocks the signals in the calling thread (call it before starting any thread, so that every
 * thread inherits the mask) and starts a thread that cancels @cancellable (borrowed; must live
 * until exit) on the first signal, and calls @on_repeat (optional) on each further one: what a
 * repeated signal does is the program's decision, not this module's. */
void ostick_cancel_on_signals(GCancellable *cancellable, OstickSignalFunc on_repeat);

G_END_DECLS
