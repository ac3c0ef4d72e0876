/* cli.c: shared pieces of the bundler's commands. */
#include "cli.h"

#include "ostick-cli.h"
#include "ostick-error.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define REDRAW_US (100 * 1000)

static gboolean progress_drawn;
static gint64 last_draw_us;

static guint
terminal_columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

void
ostick_cli_progress(const OstickProgress *progress, gpointer user_data)
{
	g_autofree char *line = NULL;
	gint64 now = g_get_monotonic_time();
	gboolean final = progress->bytes_total && progress->bytes_done == progress->bytes_total;

	if (!isatty(STDERR_FILENO) || (!final && now - last_draw_us < REDRAW_US))
		return;
	last_draw_us = now;
	line = ostick_progress_format_bar(progress, terminal_columns());
	fprintf(stderr, "\r%s\033[K", line);
	progress_drawn = TRUE;
}

void
ostick_cli_progress_done(void)
{
	if (progress_drawn)
		fputc('\n', stderr);
	progress_drawn = FALSE;
}

struct _OstickCliSpinner {
	GThread *thread;
	GMutex lock;
	GCond cond;
	gboolean stop;
	OstickStage stage;
	gint64 start_us;
};

static gpointer
spin(gpointer data)
{
	OstickCliSpinner *spinner = data;

	g_mutex_lock(&spinner->lock);
	while (!spinner->stop) {
		OstickProgress progress = {.stage = spinner->stage};

		progress.elapsed_us = g_get_monotonic_time() - spinner->start_us;
		ostick_cli_progress(&progress, NULL);
		g_cond_wait_until(
			&spinner->cond, &spinner->lock, g_get_monotonic_time() + 4 * REDRAW_US);
	}
	g_mutex_unlock(&spinner->lock);
	return NULL;
}

OstickCliSpinner *
ostick_cli_spinner_start(OstickStage stage)
{
	OstickCliSpinner *spinner = g_new0(OstickCliSpinner, 1);

	g_mutex_init(&spinner->lock);
	g_cond_init(&spinner->cond);
	spinner->stage = stage;
	spinner->start_us = g_get_monotonic_time();
	if (isatty(STDERR_FILENO))
		spinner->thread = g_thread_new("ostick-spinner", spin, spinner);
	return spinner;
}

void
ostick_cli_spinner_stop(OstickCliSpinner *spinner)
{
	if (spinner == NULL)
		return;
	g_mutex_lock(&spinner->lock);
	spinner->stop = TRUE;
	g_cond_signal(&spinner->cond);
	g_mutex_unlock(&spinner->lock);
	if (spinner->thread != NULL)
		g_thread_join(spinner->thread);
	ostick_cli_progress_done();
	g_mutex_clear(&spinner->lock);
	g_cond_clear(&spinner->cond);
	g_free(spinner);
}

void
ostick_cli_print_json(JsonBuilder *builder)
{
	g_autofree char *text = ostick_json_to_string(builder, TRUE);

	printf("%s\n", text);
}
