/* ostick-receive.c: a sample integrator of libostick (see samples/README.md).
 *
 * A vendor transport receives a bundle and hands it to the device: here the transport is a Unix
 * stream socket. ostick-receive listens on it, installs each bundle as it arrives (never storing
 * it first), answers the sender with one line, and prints progress. SIGINT or SIGTERM cancel
 * the install in progress; nothing changes on the device then.
 *
 * It uses only <ostick.h> and links libostick through pkg-config:
 *   cc -o ostick-receive ostick-receive.c $(pkg-config --cflags --libs ostick)
 *
 * The answer to the sender, after the bundle ends (the sender shuts its side down):
 *   "OK <outcome> <version> <commit>\n"    installed, or already installed
 *   "ERROR <exit code> <message>\n"         refused or failed; the device is unchanged
 */
#define _GNU_SOURCE /* accept4 */
#include <ostick.h>

#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char *opt_listen;
static char *opt_sysroot;
static char *opt_os;
static char *opt_compatible;
static char *opt_keyring;
static gboolean opt_once;
static gboolean opt_version;

static GOptionEntry entries[] = {
	{"listen", 0, 0, G_OPTION_ARG_FILENAME, &opt_listen, "Unix socket to listen on", "PATH"},
	{"sysroot", 0, 0, G_OPTION_ARG_FILENAME, &opt_sysroot, "The OSTree sysroot (default /)",
		"DIR"},
	{"os", 0, 0, G_OPTION_ARG_STRING, &opt_os, "The OS to update (default: the booted one)",
		"NAME"},
	{"compatible", 0, 0, G_OPTION_ARG_STRING, &opt_compatible,
		"This device's compatible string", "STRING"},
	{"keyring", 0, 0, G_OPTION_ARG_FILENAME, &opt_keyring, "Trusted public keys", "DIR"},
	{"once", 0, 0, G_OPTION_ARG_NONE, &opt_once,
		"Take one bundle, then exit with ostick's exit code for it", NULL},
	{"version", 0, 0, G_OPTION_ARG_NONE, &opt_version, "Print libostick's version", NULL},
	{NULL}};

/* One install, run in a worker thread while the main thread waits for signals. */
typedef struct {
	int connection;
	const OstickKeyring *keyring;
	GCancellable *cancellable;
	GMainLoop *loop;
	OstickStage last_stage;
	int exit_code;
} Job;

static void
print_progress(const OstickProgress *progress, gpointer user_data)
{
	Job *job = user_data;

	/* Stage changes always; byte counts at most once per part, to keep the log short. */
	if (progress->stage == job->last_stage && progress->bytes_done != progress->bytes_total)
		return;
	job->last_stage = progress->stage;
	printf("progress %s %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " part %u/%u\n",
		ostick_stage_name(progress->stage), progress->bytes_done, progress->bytes_total,
		progress->parts_done, progress->parts_total);
	fflush(stdout);
}

static OstickInstallOptions *
install_options(Job *job)
{
	OstickInstallOptions *options = ostick_install_options_new();

	if (opt_sysroot)
		ostick_install_options_set_sysroot(options, opt_sysroot);
	ostick_install_options_set_os(options, opt_os);
	ostick_install_options_set_compatible(options, opt_compatible);
	ostick_install_options_set_keyring(options, job->keyring);
	ostick_install_options_set_progress(options, print_progress, job);
	return options;
}

static void
answer(int connection, const OstickInstallResult *result, const GError *error)
{
	g_autofree char *line = NULL;

	if (error == NULL)
		line = g_strdup_printf("OK %s %s %s\n", ostick_outcome_name(result->outcome),
			result->to_version, result->to_commit);
	else
		line = g_strdup_printf(
			"ERROR %d %s\n", ostick_error_to_exit_code(error), error->message);
	fputs(line, stdout);
	/* The sender may have gone (a transport that died mid-bundle): that is not our failure. */
	if (send(connection, line, strlen(line), MSG_NOSIGNAL) < 0)
		printf("note: could not answer the sender: %s\n", g_strerror(errno));
	fflush(stdout);
}

static gboolean
quit_loop(gpointer loop)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static gpointer
run_install(gpointer data)
{
	Job *job = data;
	g_autoptr(OstickInstallOptions) options = install_options(job);
	g_autoptr(OstickBundle) bundle = NULL;
	g_auto(OstickInstallResult) result = {0};
	g_autoptr(GError) error = NULL;

	bundle = ostick_bundle_open_fd(job->connection, &error);
	if (bundle != NULL)
		(void)ostick_bundle_install(bundle, options, &result, job->cancellable, &error);
	answer(job->connection, &result, error);
	job->exit_code = ostick_error_to_exit_code(error);
	/* Through the main context: a quit before the loop runs would be lost. */
	g_main_context_invoke(NULL, quit_loop, job->loop);
	return NULL;
}

static gboolean
on_signal(gpointer data)
{
	Job *job = data;

	printf("signal: cancelling\n");
	fflush(stdout);
	g_cancellable_cancel(job->cancellable);
	return G_SOURCE_CONTINUE;
}

static int
serve_one(int connection, const OstickKeyring *keyring)
{
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	Job job = {connection, keyring, cancellable, loop, (OstickStage)-1, 0};
	guint sigint = g_unix_signal_add(SIGINT, on_signal, &job);
	guint sigterm = g_unix_signal_add(SIGTERM, on_signal, &job);
	GThread *worker = g_thread_new("install", run_install, &job);

	g_main_loop_run(loop);
	g_thread_join(worker);
	g_source_remove(sigint);
	g_source_remove(sigterm);
	return job.exit_code;
}

static int
listen_on(const char *path, GError **error)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof addr.sun_path) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: too long", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 1) < 0) {
		int errsv = errno;

		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errsv), "%s: %s", path,
			g_strerror(errsv));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context =
		g_option_context_new("- install bundles sent over a socket");
	g_autoptr(OstickKeyring) keyring = NULL;
	g_autoptr(GError) error = NULL;
	int listener, code = 0;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		fprintf(stderr, "ostick-receive: %s\n", error->message);
		return OSTICK_EXIT_USAGE;
	}
	if (opt_version) {
		printf("%s\n", ostick_get_version());
		return 0;
	}
	if (opt_listen == NULL || opt_keyring == NULL || opt_compatible == NULL) {
		fprintf(stderr,
			"ostick-receive: --listen, --keyring and --compatible are needed\n");
		return OSTICK_EXIT_USAGE;
	}
	keyring = ostick_keyring_load(opt_keyring, &error);
	if (keyring == NULL || (listener = listen_on(opt_listen, &error)) < 0) {
		fprintf(stderr, "ostick-receive: %s\n", error->message);
		return ostick_error_to_exit_code(error);
	}
	printf("listening on %s\n", opt_listen);
	fflush(stdout);
	do {
		int connection = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

		if (connection < 0) {
			perror("ostick-receive: accept");
			return OSTICK_EXIT_FAILURE;
		}
		code = serve_one(connection, keyring);
		close(connection);
	} while (!opt_once);
	close(listener);
	unlink(opt_listen);
	return code;
}
