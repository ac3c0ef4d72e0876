/* ostick-signals.c: signals to cancellation. */
#include "ostick-signals.h"

#include <signal.h>
#include <unistd.h>

static void
fill_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

static gpointer
signal_thread(gpointer data)
{
	GCancellable *cancellable = data;
	sigset_t set;
	int sig = 0;

	fill_set(&set);
	if (sigwait(&set, &sig) != 0)
		return NULL;
	g_cancellable_cancel(cancellable);
	if (sigwait(&set, &sig) == 0)
		_exit(128 + sig);
	return NULL;
}

void
ostick_cancel_on_signals(GCancellable *cancellable)
{
	sigset_t set;
	GThread *thread;

	fill_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	thread = g_thread_new("ostick-signals", signal_thread, cancellable);
	g_thread_unref(thread);
}
