/* ostick-signals.c: signals to cancellation. */
#include "ostick-signals.h"

#include <signal.h>

static void
fill_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

typedef struct {
	GCancellable *cancellable;
	OstickSignalFunc on_repeat;
} Watch;

static gpointer
signal_thread(gpointer data)
{
	Watch *watch = data;
	sigset_t set;
	int sig = 0;

	fill_set(&set);
	if (sigwait(&set, &sig) != 0)
		return NULL;
	g_cancellable_cancel(watch->cancellable);
	while (sigwait(&set, &sig) == 0) {
		if (watch->on_repeat != NULL)
			watch->on_repeat(sig);
	}
	return NULL;
}

void
ostick_cancel_on_signals(GCancellable *cancellable, OstickSignalFunc on_repeat)
{
	static Watch watch;
	sigset_t set;
	GThread *thread;

	watch = (Watch){cancellable, on_repeat};
	fill_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	thread = g_thread_new("ostick-signals", signal_thread, &watch);
	g_thread_unref(thread);
}
