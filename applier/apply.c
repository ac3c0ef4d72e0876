/* apply.c: part-by-part delta application.
 *
 * libostree's executor only takes a path and mmaps it, and separate uncompressed part files over
 * 16 KiB cannot be mapped (LIBOSTREE-NOTES). So each part is streamed into an O_TMPFILE on the
 * repo's filesystem as the inline part of a one-part superblock derived from the verified one,
 * and handed to ostree_repo_static_delta_execute_offline() as /proc/self/fd/N. At most one part
 * is staged at a time, and a killed process leaves no staging file behind.
 */
#include "apply.h"

#include "policy.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
	int fd;
	OstickApplyOptions *options;
	OstickProgress state;
	GCancellable *cancellable;
} PartSink;

static void
emit(PartSink *sink)
{
	if (sink->options->progress == NULL)
		return;
	sink->state.elapsed_us = g_get_monotonic_time() - sink->options->start_us;
	sink->options->progress(&sink->state, sink->options->progress_data);
}

static gboolean
write_chunk(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	PartSink *sink = user_data;

	if (g_cancellable_set_error_if_cancelled(sink->cancellable, error) ||
		!ostick_write_all(sink->fd, data, len, error))
		return FALSE;
	sink->state.bytes_done += len;
	emit(sink);
	return TRUE;
}

static gboolean
write_bytes(int fd, GBytes *bytes, GError **error)
{
	gsize len = 0;
	const void *data = g_bytes_get_data(bytes, &len);

	return ostick_write_all(fd, data, len, error);
}

/* libostree reports its min-free-space reserve as a plain failure; it is a full disk. */
static gboolean
classify_error(GError **error)
{
	if (error != NULL && *error != NULL && (*error)->domain == G_IO_ERROR &&
		strstr((*error)->message, "min-free-space") != NULL)
		(*error)->domain = OSTICK_ERROR, (*error)->code = OSTICK_ERROR_NO_SPACE;
	return FALSE;
}

static gboolean
execute_staged(OstreeRepo *repo, int fd, guint index, GCancellable *cancellable, GError **error)
{
	g_autofree char *proc = g_strdup_printf("/proc/self/fd/%d", fd);
	g_autoptr(GFile) file = g_file_new_for_path(proc);

	/* skip_validation=FALSE: TRUE writes nothing but the commit in libostree 2022.7. */
	if (!ostree_repo_static_delta_execute_offline(repo, file, FALSE, cancellable, error)) {
		g_prefix_error(error, "applying part %u: ", index);
		return classify_error(error);
	}
	return TRUE;
}

static gboolean
apply_part(OstreeRepo *repo, int tmp_dfd, OstickBundleReader *reader, const OstickSuperblock *sb,
	guint index, PartSink *sink, GError **error)
{
	const OstickManifest *m = ostick_bundle_reader_get_manifest(reader);
	g_autoptr(GBytes) prefix = NULL;
	g_autoptr(GBytes) suffix = NULL;
	g_auto(OstickFd) fd = ostick_open_anonymous_tmpfile(tmp_dfd, error);
	struct stat st;

	if (fd < 0)
		return FALSE;
	/* ostree-xz: the member is the (yay) value libostree expects, compression byte first. */
	ostick_superblock_layout_single_part(sb, index, m->parts[index].size, &prefix, &suffix);
	sink->fd = fd;
	sink->state.parts_done = index;
	if (!write_bytes(fd, prefix, error) ||
		!ostick_bundle_reader_read_part(reader, index, write_chunk, sink, error) ||
		!write_bytes(fd, suffix, error))
		return classify_error(error);
	/* Only now, hash verified, may libostree see the bytes. */
	if (fstat(fd, &st) == 0)
		sink->options->peak_staging = MAX(sink->options->peak_staging,
			(guint64)st.st_size + m->parts[index].decoded_size);
	return execute_staged(repo, fd, index, sink->cancellable, error);
}

static gboolean
check_complete(OstreeRepo *repo, const char *target, GCancellable *cancellable, GError **error)
{
	g_autoptr(GError) local_error = NULL;

	/* Every object the target reaches must now exist: no fallback, nothing forgotten. A
	 * signed delta that leaves gaps is a broken bundle. */
	if (ostick_commit_check_complete(repo, target, cancellable, &local_error))
		return TRUE;
	if (g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return g_propagate_error(error, g_steal_pointer(&local_error)), FALSE;
	return ostick_throw(error, OSTICK_ERROR_CORRUPT,
		"target commit incomplete after the delta: %s", local_error->message);
}

static gboolean
apply_all(OstreeRepo *repo, OstickBundleReader *reader, const OstickSuperblock *sb,
	OstickApplyOptions *options, GCancellable *cancellable, GError **error)
{
	const OstickManifest *m = ostick_bundle_reader_get_manifest(reader);
	PartSink sink = {-1, options, {OSTICK_STAGE_APPLY}, cancellable};
	g_auto(OstickFd) tmp_dfd =
		openat(ostree_repo_get_dfd(repo), "tmp", O_DIRECTORY | O_RDONLY | O_CLOEXEC);

	if (tmp_dfd < 0)
		return ostick_throw_errno(error, "opening the repo's tmp directory");
	sink.state.parts_total = m->n_parts;
	for (guint i = 0; i < m->n_parts; i++)
		sink.state.bytes_total += m->parts[i].size;
	for (guint i = 0; i < m->n_parts; i++) {
		if (!apply_part(repo, tmp_dfd, reader, sb, i, &sink, error))
			return FALSE;
	}
	sink.state.parts_done = m->n_parts;
	emit(&sink);
	if (!ostick_bundle_reader_finish(reader, error) ||
		!check_complete(repo, m->target, cancellable, error))
		return FALSE;
	if (options->set_ref)
		ostree_repo_transaction_set_ref(repo, NULL, m->ref, m->target);
	return TRUE;
}

/* libostree keeps an aborted transaction's staging directory (tmp/staging-<boot id>-*) for the
 * next pull of this boot to resume. A failed install must leave nothing staged, so remove every
 * staging directory that nobody holds, taking libostree's own lock (<dir>-lock, flock) first. */
static void
remove_idle_staging(OstreeRepo *repo)
{
	g_autofree char *repo_path = g_file_get_path(ostree_repo_get_path(repo));
	g_autofree char *tmp_path = g_build_filename(repo_path, "tmp", NULL);
	g_autoptr(GDir) dir = g_dir_open(tmp_path, 0, NULL);
	const char *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *path = g_build_filename(tmp_path, name, NULL);
		g_autofree char *lock_path = g_strconcat(path, "-lock", NULL);
		g_auto(OstickFd) lock_fd = -1;

		if (!g_str_has_prefix(name, "staging-") || g_str_has_suffix(name, "-lock") ||
			!g_file_test(path, G_FILE_TEST_IS_DIR))
			continue;
		lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0)
			continue; /* in use by another transaction: theirs to keep */
		(void)ostick_rm_rf(path, NULL);
		(void)unlink(lock_path);
	}
}

/* libostree decompresses xz parts into an anonymous file in $TMPDIR (default /var/tmp):
 * keep that on the repo's filesystem too, where the space check counted it. */
static void
point_tmpdir_at_repo(OstreeRepo *repo)
{
	g_autofree char *repo_path = g_file_get_path(ostree_repo_get_path(repo));
	g_autofree char *tmp = g_build_filename(repo_path, "tmp", NULL);

	g_setenv("TMPDIR", tmp, TRUE);
}

gboolean
ostick_apply_delta(OstreeRepo *repo, OstickBundleReader *reader, const OstickSuperblock *superblock,
	OstickApplyOptions *options, GCancellable *cancellable, GError **error)
{
	const char *target = ostick_bundle_reader_get_manifest(reader)->target;

	point_tmpdir_at_repo(repo);
	if (!ostree_repo_prepare_transaction(repo, NULL, cancellable, error))
		return FALSE;
	if (!ostree_repo_mark_commit_partial(repo, target, TRUE, error) ||
		!apply_all(repo, reader, superblock, options, cancellable, error) ||
		!ostree_repo_commit_transaction(repo, NULL, cancellable, error)) {
		(void)ostree_repo_abort_transaction(repo, NULL, NULL);
		remove_idle_staging(repo);
		(void)ostree_repo_mark_commit_partial(repo, target, FALSE, NULL);
		return FALSE;
	}
	return ostree_repo_mark_commit_partial(repo, target, FALSE, error);
}
