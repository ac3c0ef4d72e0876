/* usb.c: the stick handler. */
#include "usb.h"

#include "device.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "stick-mount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CANDIDATES 64
#define BUNDLE_DIR "ostick"
#define LOCK_RETRY_US (2 * G_USEC_PER_SEC)

typedef struct {
	char *name; /* relative to the stick root */
	int fd;
	guint64 size;
	OstickInstallResult probe;
} Candidate;

typedef struct {
	const OstickUsbOptions *options;
	OstickUsbResult *result;
	GCancellable *cancellable;
	GPtrArray *candidates; /* Candidate */
	GError *worst; /* the most serious refusal, if nothing applies */
	gboolean current; /* an authentic bundle for this device is installed or older */
	Candidate *pending; /* its target is the default deployment, but not the booted one */
} Handler;

static void
candidate_free(Candidate *c)
{
	ostick_fd_close(c->fd);
	ostick_install_result_clear(&c->probe);
	g_free(c->name);
	g_free(c);
}

const char *
ostick_usb_outcome_name(OstickUsbOutcome outcome)
{
	static const char *const names[] = {"nothing-found", "up-to-date", "installed", "failed"};

	return names[outcome];
}

void
ostick_usb_result_clear(OstickUsbResult *result)
{
	ostick_install_result_clear(&result->install);
	g_clear_pointer(&result->device, g_free);
	g_clear_pointer(&result->bundle, g_free);
	g_clear_pointer(&result->notes, g_ptr_array_unref);
}

static void log_message(Handler *h, int priority, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
log_message(Handler *h, int priority, const char *fmt, ...)
{
	g_autofree char *message = NULL;
	va_list args;

	va_start(args, fmt);
	message = g_strdup_vprintf(fmt, args);
	va_end(args);
	if (h->options->log != NULL)
		h->options->log(priority, message, h->options->log_data);
}

static void
note(Handler *h, const char *name, const char *why)
{
	g_ptr_array_add(h->result->notes, g_strdup_printf("%s: %s", name, why));
	log_message(h, 6, "%s: %s", name, why);
}

/* A file name from the stick as it may appear in the journal and the result file: valid
 * UTF-8, control characters (escape sequences, carriage returns) shown as '?'. */
static char *
printable_name(const char *name)
{
	g_autofree char *valid = g_utf8_make_valid(name, -1);
	GString *out = g_string_new(NULL);

	for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (g_unichar_iscntrl(c))
			g_string_append_c(out, '?');
		else
			g_string_append_unichar(out, c);
	}
	return g_string_free(out, FALSE);
}

/* Opens @entry of @dfd if it is a regular file, without following a symlink and without
 * blocking on a FIFO, then makes reads blocking again. -1 otherwise. */
static int
open_regular(int dfd, const char *entry, struct stat *out_st)
{
	g_auto(OstickFd) fd =
		openat(dfd, entry, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0 || fstat(fd, out_st) < 0 || !S_ISREG(out_st->st_mode) ||
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		return -1;
	return ostick_steal_fd(&fd);
}

static void
add_candidate(Handler *h, int dfd, const char *entry, char *rel)
{
	Candidate *c;
	struct stat st;
	int fd;

	if (entry[0] == '.') {
		note(h, rel, "hidden file (macOS leaves ._NAME beside each file): ignored");
		return;
	}
	fd = open_regular(dfd, entry, &st);
	if (fd < 0) {
		note(h, rel, "not a regular file (symlinks are not followed): ignored");
		return;
	}
	if (h->candidates->len == MAX_CANDIDATES) {
		note(h, rel, "too many bundles on the stick: ignored");
		close(fd);
		return;
	}
	c = g_new0(Candidate, 1);
	c->name = g_strdup(rel);
	c->fd = fd;
	c->size = (guint64)st.st_size;
	g_ptr_array_add(h->candidates, c);
}

/* Every *.ostick entry of @subdir ("" for the top level) of the stick at @root_fd. The folder is
 * opened without following a symlink: a link to the device's own files must not lead there. */
static void
scan_dir(Handler *h, int root_fd, const char *subdir)
{
	g_auto(OstickFd) dfd = openat(
		root_fd, subdir[0] ? subdir : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir;
	struct dirent *dent;

	if (dfd < 0) {
		if (errno != ENOENT)
			note(h, subdir, "not a folder (symlinks are not followed): ignored");
		return;
	}
	dir = fdopendir(ostick_steal_fd(&dfd));
	if (dir == NULL)
		return;
	while ((dent = readdir(dir)) != NULL) {
		g_autofree char *shown = printable_name(dent->d_name);
		g_autofree char *rel =
			subdir[0] ? g_build_filename(subdir, shown, NULL) : g_strdup(shown);

		if (g_str_has_suffix(dent->d_name, ".ostick"))
			add_candidate(h, dirfd(dir), dent->d_name, rel);
	}
	closedir(dir);
}

/* How serious a refusal is: a wrong or tampered bundle must show (the unit fails); an older or
 * installed one is what an old stick looks like (a clean no-op). */
static int
severity(const GError *error)
{
	if (g_error_matches(error, OSTICK_ERROR, OSTICK_ERROR_DOWNGRADE))
		return 0;
	if (ostick_error_to_exit_code(error) == OSTICK_EXIT_AUTH)
		return 3;
	if (ostick_error_to_exit_code(error) == OSTICK_EXIT_NOT_FOR_DEVICE)
		return 2;
	return 1;
}

static void
remember_refusal(Handler *h, GError *error)
{
	if (severity(error) == 0) {
		h->current = TRUE;
		g_error_free(error);
		return;
	}
	if (h->worst == NULL || severity(error) > severity(h->worst)) {
		g_clear_error(&h->worst);
		h->worst = error;
		return;
	}
	g_error_free(error);
}

static OstickInstallOptions
install_options(Handler *h, gboolean probe)
{
	const OstickConfig *config = h->options->config;

	return (OstickInstallOptions){
		.sysroot = config->sysroot,
		.os = config->os,
		.compatible = config->compatible,
		.keyring = h->options->keyring,
		.allow_downgrade = config->allow_downgrade,
		.probe_only = probe,
		.record = !probe,
		.progress = probe ? NULL : h->options->progress,
		.progress_data = h->options->progress_data,
	};
}

static void
probe(Handler *h, Candidate *c)
{
	OstickInstallOptions options = install_options(h, TRUE);
	GError *error = NULL;

	if (!ostick_install(c->fd, &options, &c->probe, h->cancellable, &error)) {
		g_autofree char *why = g_strdup_printf("refused: %s", error->message);

		note(h, c->name, why);
		remember_refusal(h, error);
		c->probe.outcome = OSTICK_OUTCOME_FAILED;
		return;
	}
	if (c->probe.outcome == OSTICK_OUTCOME_ALREADY_INSTALLED && c->probe.reboot_pending) {
		h->current = TRUE;
		h->pending = c;
		note(h, c->name, "already installed, but not booted yet (reboot pending)");
	} else if (c->probe.outcome == OSTICK_OUTCOME_ALREADY_INSTALLED) {
		h->current = TRUE;
		note(h, c->name, "already installed");
	} else
		log_message(
			h, 6, "%s: applicable: %s %s", c->name, c->probe.os, c->probe.to_version);
}

/* The newest target wins; for the same target, the smaller bundle (a delta) is faster. */
static gboolean
better(const Candidate *a, const Candidate *b)
{
	int cmp;

	if (b == NULL)
		return TRUE;
	if (a->probe.target_timestamp != b->probe.target_timestamp)
		return a->probe.target_timestamp > b->probe.target_timestamp;
	cmp = strverscmp(a->probe.to_version, b->probe.to_version);
	if (cmp != 0)
		return cmp > 0;
	return a->size < b->size;
}

static gint
compare_candidates(gconstpointer a, gconstpointer b)
{
	const Candidate *ca = *(const Candidate *const *)a;
	const Candidate *cb = *(const Candidate *const *)b;

	return better(ca, cb) ? -1 : better(cb, ca) ? 1 : 0;
}

/* The applicable candidates, best first. (transfer container) */
static GPtrArray *
rank(Handler *h)
{
	GPtrArray *ranked = g_ptr_array_new();

	for (guint i = 0; i < h->candidates->len; i++) {
		Candidate *c = h->candidates->pdata[i];

		if (c->probe.outcome == OSTICK_OUTCOME_APPLICABLE)
			g_ptr_array_add(ranked, c);
	}
	g_ptr_array_sort(ranked, compare_candidates);
	return ranked;
}

/* Another install holds the lock (a second stick): wait for it, up to [usb] lock-wait. */
static gboolean
install_waiting(Handler *h, Candidate *c, GError **error)
{
	OstickInstallOptions options = install_options(h, FALSE);
	gint64 deadline =
		g_get_monotonic_time() + (gint64)h->options->config->lock_wait * G_USEC_PER_SEC;
	gboolean logged = FALSE;

	for (;;) {
		g_autoptr(GError) local_error = NULL;

		ostick_install_result_clear(&h->result->install);
		if (lseek(c->fd, 0, SEEK_SET) < 0)
			return ostick_throw_errno(error, "%s", c->name);
		if (ostick_install(
			    c->fd, &options, &h->result->install, h->cancellable, &local_error))
			return TRUE;
		if (!g_error_matches(local_error, OSTICK_ERROR, OSTICK_ERROR_BUSY) ||
			g_get_monotonic_time() > deadline)
			return g_propagate_error(error, g_steal_pointer(&local_error)), FALSE;
		if (!logged)
			log_message(h, 5, "another update is running: waiting up to %u s",
				h->options->config->lock_wait);
		logged = TRUE;
		if (g_cancellable_set_error_if_cancelled(h->cancellable, error))
			return FALSE;
		g_usleep(LOCK_RETRY_US);
	}
}

static gboolean
finish_nothing_applicable(Handler *h, GError **error)
{
	/* Up to date if an authentic bundle for this device is installed (or older): other
	 * files on the stick are then only notes. Otherwise the worst refusal is the outcome. */
	gboolean up_to_date = h->current || h->worst == NULL;

	h->result->outcome = up_to_date ? OSTICK_USB_UP_TO_DATE : OSTICK_USB_FAILED;
	if (up_to_date && h->pending != NULL) {
		/* Installed before (an install the reboot never followed): the caller's reboot
		 * policy applies to it as to a fresh install. */
		ostick_install_result_clear(&h->result->install);
		h->result->install = h->pending->probe;
		h->pending->probe = (OstickInstallResult){0};
		g_clear_pointer(&h->result->bundle, g_free);
		h->result->bundle = g_strdup(h->pending->name);
	}
	if (up_to_date)
		return TRUE;
	g_propagate_prefixed_error(
		error, g_steal_pointer(&h->worst), "no applicable bundle on the stick: ");
	return FALSE;
}

/* Installs @c. Sets @out_try_next when it failed because of the bundle itself (damaged or not
 * authentic past its manifest): the pipeline then changed nothing, and another copy may do. */
static gboolean
install_candidate(Handler *h, Candidate *c, gboolean *out_try_next, GError **error)
{
	*out_try_next = FALSE;
	g_clear_pointer(&h->result->bundle, g_free);
	h->result->bundle = g_strdup(c->name);
	log_message(h, 5, "installing %s (%s %s)", c->name, c->probe.os, c->probe.to_version);
	if (install_waiting(h, c, error)) {
		h->result->outcome = h->result->install.outcome == OSTICK_OUTCOME_INSTALLED
					     ? OSTICK_USB_INSTALLED
					     : OSTICK_USB_UP_TO_DATE;
		return TRUE;
	}
	/* Someone else installed the same or a newer one meanwhile: fine for a stick. */
	if (g_error_matches(*error, OSTICK_ERROR, OSTICK_ERROR_DOWNGRADE)) {
		g_clear_error(error);
		h->result->outcome = OSTICK_USB_UP_TO_DATE;
		return TRUE;
	}
	h->result->outcome = OSTICK_USB_FAILED;
	*out_try_next = ostick_error_to_exit_code(*error) == OSTICK_EXIT_AUTH;
	return FALSE;
}

static gboolean
install_best(Handler *h, GError **error)
{
	g_autoptr(GPtrArray) ranked = rank(h);
	g_autoptr(GError) last_error = NULL;
	guint i;

	if (ranked->len == 0)
		return finish_nothing_applicable(h, error);
	for (i = 0; i < ranked->len; i++) {
		Candidate *c = ranked->pdata[i];
		gboolean try_next = FALSE;
		g_autofree char *why = NULL;

		g_clear_error(&last_error);
		if (install_candidate(h, c, &try_next, &last_error))
			break;
		if (!try_next || i + 1 == ranked->len)
			return g_propagate_error(error, g_steal_pointer(&last_error)), FALSE;
		why = g_strdup_printf("failed: %s; trying the next bundle", last_error->message);
		note(h, c->name, why);
	}
	for (i++; i < ranked->len; i++)
		note(h, ((Candidate *)ranked->pdata[i])->name,
			"not chosen: another bundle on the stick is newer or smaller");
	return TRUE;
}

static gboolean
handle_mounted(Handler *h, const char *root, GError **error)
{
	g_auto(OstickFd) root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (root_fd < 0)
		return ostick_throw_errno(error, "%s", root);
	scan_dir(h, root_fd, "");
	scan_dir(h, root_fd, BUNDLE_DIR);
	if (h->candidates->len == 0) {
		h->result->outcome = OSTICK_USB_NOTHING_FOUND;
		log_message(h, 6, "no *.ostick bundle on %s: nothing to do", h->result->device);
		return TRUE;
	}
	for (guint i = 0; i < h->candidates->len; i++) {
		if (g_cancellable_set_error_if_cancelled(h->cancellable, error))
			return FALSE;
		probe(h, h->candidates->pdata[i]);
	}
	return install_best(h, error);
}

typedef struct {
	Handler *handler;
	const GError *error;
} ResultFile;

static char *
machine_id(void)
{
	g_autofree char *id = NULL;

	if (g_file_get_contents("/etc/machine-id", &id, NULL, NULL) && g_strstrip(id)[0] != '\0')
		return g_steal_pointer(&id);
	return g_strdup(g_get_host_name());
}

static char *
result_text(Handler *h, const GError *error)
{
	OstickUsbResult *r = h->result;
	GString *text = g_string_new(NULL);
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree char *when = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");

	g_string_append_printf(text, "outcome: %s\n", ostick_usb_outcome_name(r->outcome));
	g_string_append_printf(text, "time: %s\n", when);
	if (r->install.from_version || r->install.from_commit)
		g_string_append_printf(text, "from: %s (%.12s)\n", r->install.from_version ?: "?",
			r->install.from_commit ?: "");
	if (r->bundle != NULL)
		g_string_append_printf(text, "to: %s (%.12s)\nbundle: %s\n",
			r->install.to_version ?: "?", r->install.to_commit ?: "", r->bundle);
	if (error != NULL)
		g_string_append_printf(text, "reason: %s\n", error->message);
	if (r->install.reboot_pending)
		g_string_append(text, "reboot pending: yes (installed, not booted yet)\n");
	for (guint i = 0; i < r->notes->len; i++)
		g_string_append_printf(text, "note: %s\n", (char *)r->notes->pdata[i]);
	return g_string_free(text, FALSE);
}

static gboolean
write_result_file(const char *root, gpointer user_data, GError **error)
{
	ResultFile *rf = user_data;
	g_autofree char *id = machine_id();
	g_autofree char *name = g_strdup_printf("ostick-result-%s.txt", id);
	g_autofree char *path = g_build_filename(root, name, NULL);
	g_autofree char *text = result_text(rf->handler, rf->error);

	return g_file_set_contents(path, text, -1, error);
}

static void
leave_result(Handler *h, OstickMount *mount, const GError *error)
{
	ResultFile rf = {h, error};
	g_autoptr(GError) local_error = NULL;

	/* Only on an update stick: a stranger's stick without bundles stays untouched. */
	if (!h->options->config->result_file || mount == NULL ||
		h->result->outcome == OSTICK_USB_NOTHING_FOUND)
		return;
	if (!ostick_mount_write(mount, write_result_file, &rf, &local_error))
		log_message(h, 4, "could not write the result file on the stick: %s",
			local_error->message);
}

static char *
mount_parent(void)
{
	/* systemd's RuntimeDirectory= for the unit (removed when it stops), else /run/ostick. */
	const char *runtime = g_getenv("RUNTIME_DIRECTORY");

	return g_strdup(runtime && runtime[0] == '/' ? runtime : "/run/ostick");
}

gboolean
ostick_usb_handle(const char *device, const OstickUsbOptions *options, OstickUsbResult *result,
	GCancellable *cancellable, GError **error)
{
	Handler h = {options, result, cancellable, NULL, NULL, FALSE, NULL};
	g_autoptr(OstickStick) stick = NULL;
	g_autoptr(OstickMount) mount = NULL;
	g_autofree char *parent = mount_parent();
	g_autoptr(GError) local_error = NULL;
	gboolean ok;

	result->outcome = OSTICK_USB_FAILED;
	result->device = g_strdup(device);
	result->notes = g_ptr_array_new_with_free_func(g_free);
	stick = ostick_stick_lookup(device, (const char *const *)options->config->usb_buses, error);
	if (stick == NULL || (mount = ostick_mount_stick(stick, parent, error)) == NULL)
		return FALSE;
	log_message(&h, 6, "%s (%s%s%s) mounted read-only at %s", stick->devnode,
		ostick_mount_get_fs_type(mount), stick->model ? ", " : "",
		stick->model ? stick->model : "", ostick_mount_get_path(mount));
	h.candidates = g_ptr_array_new_with_free_func((GDestroyNotify)candidate_free);
	ok = handle_mounted(&h, ostick_mount_get_path(mount), &local_error);
	g_ptr_array_unref(h.candidates);
	g_clear_error(&h.worst);
	leave_result(&h, mount, local_error);
	if (!ok)
		g_propagate_error(error, g_steal_pointer(&local_error));
	return ok;
}
