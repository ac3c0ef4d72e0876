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
#include "ostick-xz.h"
#include "ostick-zstd.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
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

/* The part's bytes are the signed ones, decoded within their bounds: when libostree cannot
 * execute them, the bundle is broken (exit 4; a USB handler then tries another copy), unless
 * the system failed: a full disk, cancellation, an I/O error, permissions. */
static gboolean
classify_execution_error(GError **error)
{
	static const GIOErrorEnum system_codes[] = {G_IO_ERROR_NO_SPACE, G_IO_ERROR_CANCELLED,
		G_IO_ERROR_PERMISSION_DENIED, G_IO_ERROR_READ_ONLY, G_IO_ERROR_BUSY,
		G_IO_ERROR_TOO_MANY_OPEN_FILES};
	GError *e = error ? *error : NULL;

	if (e == NULL || e->domain != G_IO_ERROR || strstr(e->message, g_strerror(EIO)) != NULL)
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(system_codes); i++) {
		if (e->code == (gint)system_codes[i])
			return FALSE;
	}
	e->domain = OSTICK_ERROR;
	e->code = OSTICK_ERROR_CORRUPT;
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
		classify_error(error);
		return classify_execution_error(error);
	}
	return TRUE;
}

/* Stages part @index's member, hash-checked, in its own anonymous file at offset 0. */
static int
stage_member(int tmp_dfd, OstickBundleReader *reader, guint index, PartSink *sink, GError **error)
{
	g_auto(OstickFd) member_fd = ostick_open_anonymous_tmpfile(tmp_dfd, error);

	if (member_fd < 0)
		return -1;
	sink->fd = member_fd;
	if (!ostick_bundle_reader_read_part(reader, index, write_chunk, sink, error))
		return -1;
	if (lseek(member_fd, 0, SEEK_SET) < 0)
		return ostick_throw_errno(error, "staging part %u", index), -1;
	return ostick_steal_fd(&member_fd);
}

typedef struct {
	int fd;
	int member_fd; /* its blocks are freed as the decoder reads them */
	guint64 released;
} DecodeSink;

static gboolean
write_decoded(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	DecodeSink *out = user_data;

	ostick_release_consumed(out->member_fd, &out->released);
	return ostick_write_all(out->fd, data, len, error);
}

/* What staging held at most for a part: the decoded file, what was left of the member (its
 * blocks are freed as they are decoded, where the filesystem can punch holes), and one
 * release step of slack. */
static void
note_peak_staging(PartSink *sink, int fd, int member_fd)
{
	struct stat part_st, member_st;

	if (fstat(fd, &part_st) < 0 || fstat(member_fd, &member_st) < 0)
		return;
	sink->options->peak_staging = MAX(sink->options->peak_staging,
		(guint64)part_st.st_size + (guint64)member_st.st_blocks * 512 + 1024 * 1024);
}

/* ostree-xz (FORMAT.md §5.4): decoded by ostick, not libostree, so that the output is bounded
 * (libostree decodes a stream whole, whatever it holds) and goes to the repo's filesystem, not
 * $TMPDIR. The payload length is known only at the end: the inline part's prefix does not
 * depend on it (the superblock's offsets come after the value), and is checked again. */
static gboolean
stage_xz_part(int fd, int tmp_dfd, OstickBundleReader *reader, const OstickSuperblock *sb,
	guint index, PartSink *sink, GError **error)
{
	const OstickMember *part = &ostick_bundle_reader_get_manifest(reader)->parts[index];
	g_auto(OstickFd) member_fd = stage_member(tmp_dfd, reader, index, sink, error);
	OstickDeltaPartInfo info;
	g_autoptr(GBytes) prefix = NULL;
	g_autoptr(GBytes) final_prefix = NULL;
	g_autoptr(GBytes) suffix = NULL;
	DecodeSink out = {fd, member_fd, 0};
	guint64 bound, payload_size = 0;

	if (member_fd < 0)
		return FALSE;
	ostick_superblock_get_part(sb, index, &info);
	bound = ostick_xz_payload_bound(part->decoded_size, info.n_objects);
	ostick_superblock_layout_single_part(sb, index, 1 + bound, &prefix, &suffix);
	if (!write_bytes(fd, prefix, error) ||
		!ostick_write_all(fd, OSTICK_DELTA_PART_UNCOMPRESSED, 1, error) ||
		!ostick_xz_decode_part(member_fd, bound, write_decoded, &out, &payload_size,
			sink->cancellable, error))
		return g_prefix_error(error, "part %u: ", index), FALSE;
	g_clear_pointer(&suffix, g_bytes_unref);
	ostick_superblock_layout_single_part(sb, index, 1 + payload_size, &final_prefix, &suffix);
	if (!g_bytes_equal(prefix, final_prefix))
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"part %u: cannot lay out its inline form", index);
	note_peak_staging(sink, fd, member_fd);
	return write_bytes(fd, suffix, error);
}

/* zstd (FORMAT.md §5.5): no decoder may see a byte before its hash matched, so the member is
 * staged on its own first, then decoded (at most its signed payload-size) into place as an
 * uncompressed inline part. */
static gboolean
stage_zstd_part(int fd, int tmp_dfd, OstickBundleReader *reader, const OstickSuperblock *sb,
	guint index, PartSink *sink, GError **error)
{
	const OstickMember *part = &ostick_bundle_reader_get_manifest(reader)->parts[index];
	g_auto(OstickFd) member_fd = stage_member(tmp_dfd, reader, index, sink, error);
	g_autoptr(GBytes) prefix = NULL;
	g_autoptr(GBytes) suffix = NULL;

	if (member_fd < 0)
		return FALSE;
	ostick_superblock_layout_single_part(sb, index, 1 + part->payload_size, &prefix, &suffix);
	if (!write_bytes(fd, prefix, error) ||
		!ostick_write_all(fd, OSTICK_DELTA_PART_UNCOMPRESSED, 1, error) ||
		!ostick_zstd_decode_fd(
			member_fd, fd, part->payload_size, TRUE, sink->cancellable, error) ||
		!write_bytes(fd, suffix, error))
		return g_prefix_error(error, "part %u: ", index), FALSE;
	note_peak_staging(sink, fd, member_fd);
	return TRUE;
}

static gboolean
apply_part(OstreeRepo *repo, int tmp_dfd, OstickBundleReader *reader, const OstickSuperblock *sb,
	guint index, PartSink *sink, GError **error)
{
	const OstickMember *part = &ostick_bundle_reader_get_manifest(reader)->parts[index];
	gboolean zstd = g_str_equal(part->encoding, OSTICK_ENCODING_ZSTD);
	g_auto(OstickFd) fd = ostick_open_anonymous_tmpfile(tmp_dfd, error);

	if (fd < 0)
		return FALSE;
	sink->state.parts_done = index;
	if (!(zstd ? stage_zstd_part(fd, tmp_dfd, reader, sb, index, sink, error)
		   : stage_xz_part(fd, tmp_dfd, reader, sb, index, sink, error)))
		return classify_error(error);
	/* Only now, hash verified and decoded, may libostree see the bytes. */
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
	sink.state.stage = OSTICK_STAGE_COMMIT;
	emit(&sink);
	/* Clear the partial mark first: traversing a commit marked partial skips missing
	 * dirtrees. Inside the transaction nothing is visible yet, so a crash here is harmless. */
	if (!ostick_bundle_reader_finish(reader, error) ||
		!ostree_repo_mark_commit_partial(repo, m->target, FALSE, error) ||
		!check_complete(repo, m->target, cancellable, error))
		return FALSE;
	if (options->set_ref)
		ostree_repo_transaction_set_ref(repo, NULL, m->ref, m->target);
	return TRUE;
}

static char *
repo_tmp_path(OstreeRepo *repo)
{
	g_autofree char *repo_path = g_file_get_path(ostree_repo_get_path(repo));

	return g_build_filename(repo_path, "tmp", NULL);
}

/* The names of the transaction staging directories (tmp/staging-*) there are now. */
static GHashTable *
list_staging(OstreeRepo *repo)
{
	g_autofree char *tmp_path = repo_tmp_path(repo);
	g_autoptr(GDir) dir = g_dir_open(tmp_path, 0, NULL);
	GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	const char *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		if (g_str_has_prefix(name, "staging-") && !g_str_has_suffix(name, "-lock"))
			g_hash_table_add(names, g_strdup(name));
	}
	return names;
}

/* libglnx's lock on a staging directory: an OFD write lock on <dir>-lock (flock() would not
 * exclude it). */
static gboolean
try_lock_staging(const char *lock_path, int *out_fd)
{
	struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	g_auto(OstickFd) fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 || fcntl(fd, F_OFD_SETLK, &lock) < 0)
		return FALSE;
	*out_fd = ostick_steal_fd(&fd);
	return TRUE;
}

/* libostree keeps an aborted transaction's staging directory for the next pull of this boot
 * to resume. A failed install must leave nothing staged: remove the staging directories that
 * appeared since @before, under libostree's own lock. One that another process holds, or that
 * was there before (and may be theirs), stays. */
static void
remove_new_staging(OstreeRepo *repo, GHashTable *before)
{
	g_autofree char *tmp_path = repo_tmp_path(repo);
	g_autoptr(GHashTable) now = list_staging(repo);
	GHashTableIter iter;
	const char *name;

	g_hash_table_iter_init(&iter, now);
	while (g_hash_table_iter_next(&iter, (gpointer *)&name, NULL)) {
		g_autofree char *path = g_build_filename(tmp_path, name, NULL);
		g_autofree char *lock_path = g_strconcat(path, "-lock", NULL);
		g_auto(OstickFd) lock_fd = -1;

		if (g_hash_table_contains(before, name) || !try_lock_staging(lock_path, &lock_fd))
			continue;
		(void)ostick_rm_rf(path, NULL);
		(void)unlink(lock_path);
	}
}

/* libostree puts temporary files of its own in $TMPDIR (default /var/tmp; for xz parts, which
 * ostick now decodes itself, their decoded copy): keep any on the repo's filesystem, where the
 * space check counted them. */
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

	g_autoptr(GHashTable) staging_before = list_staging(repo);

	point_tmpdir_at_repo(repo);
	if (!ostree_repo_prepare_transaction(repo, NULL, cancellable, error))
		return FALSE;
	if (!ostree_repo_mark_commit_partial(repo, target, TRUE, error) ||
		!apply_all(repo, reader, superblock, options, cancellable, error) ||
		!ostree_repo_commit_transaction(repo, NULL, cancellable, error)) {
		(void)ostree_repo_abort_transaction(repo, NULL, NULL);
		remove_new_staging(repo, staging_before);
		(void)ostree_repo_mark_commit_partial(repo, target, FALSE, NULL);
		return FALSE;
	}
	return ostree_repo_mark_commit_partial(repo, target, FALSE, error);
}
