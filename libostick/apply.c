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
#include "staging.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "ostick-hash.h"
#include "ostick-superblock.h"
#include "ostick-xz.h"
#include "ostick-zstd.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

typedef struct {
	int fd;
	OstickApplyOptions *options;
	OstickProgress state;
	GCancellable *cancellable;
	gboolean streamed_in_memory; /* libostree's copies of streamed parts: point_tmpdir() */
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
	gboolean ok;

	/* skip_validation=FALSE: TRUE writes nothing but the commit in libostree 2022.7. */
	ok = ostree_repo_static_delta_execute_offline(repo, file, FALSE, cancellable, error);
	/* GLib's copy of an inline part's payload (a part's size) is freed now, but glibc keeps
	 * freed blocks of that size in the heap once its adaptive mmap threshold has grown: give
	 * them back, or they add to the next part's peak. */
	malloc_trim(0);
	if (!ok) {
		g_prefix_error(error, "applying part %u: ", index);
		classify_error(error);
		return classify_execution_error(error);
	}
	return TRUE;
}

/* zstd parts up to this decoded size go to libostree inline, the fast way: the one-part
 * superblock holds the payload uncompressed; libostree maps it and GLib copies the payload out,
 * so the part is in memory twice while it runs. Larger parts (an object over --max-part-size
 * makes its part larger) are streamed: once in memory, but slower (the frame is decoded twice,
 * libostree writes its decoded copy to $TMPDIR and hashes the part: with GLib's SHA-256,
 * 120 MB/s here, in a program without ostick-glib-checksum.c). OSTICK_INLINE_PART_MAX
 * (bytes) moves the limit: 0 streams every part, for a device short of memory. */
#define INLINE_PAYLOAD_MAX (16 * 1024 * 1024)
/* Where libostree's decoded copy of a streamed part may go in memory: a tmpfs (point_tmpdir()). */
#define MEMORY_TMPDIR "/dev/shm"

static guint64
inline_payload_max(void)
{
	const char *env = g_getenv("OSTICK_INLINE_PART_MAX");
	guint64 value = INLINE_PAYLOAD_MAX;

	if (env != NULL && !g_ascii_string_to_unsigned(env, 10, 0, G_MAXUINT64, &value, NULL))
		value = INLINE_PAYLOAD_MAX;
	return value;
}

/* Whether @part goes to libostree streamed rather than inline: its payload is over the limit.
 * An ostree-xz part's payload length is known only once decoded: its header's uncompressed
 * size (the objects') stands for it, and a payload that still outgrows the limit is streamed
 * after all (apply_xz_part()). */
static gboolean
is_streamed(const OstickMember *part)
{
	if (ostick_encoding_is_zstd(part->encoding))
		return part->payload_size > inline_payload_max();
	return part->decoded_size > inline_payload_max();
}

/* The most a part's payload can be: zstd's is signed; ostree-xz's is bounded (FORMAT.md §5.4). */
static guint64
payload_bound(const OstickSuperblock *sb, guint index, const OstickMember *part)
{
	OstickDeltaPartInfo info;

	if (ostick_encoding_is_zstd(part->encoding))
		return part->payload_size;
	ostick_superblock_get_part(sb, index, &info);
	return ostick_xz_payload_bound(part->decoded_size, info.n_objects);
}

/* The file a part decoded by ostick waits in for libostree: in memory (a memfd) if it is at
 * most inline_payload_max(), which bounds it; else an anonymous file in the repo's tmp. In
 * memory it costs no RAM beyond what libostree's mapping of it costs anyway, and spares the
 * device's storage the room and one write of every object. */
static int
open_decoded_staging(int tmp_dfd, guint64 decoded_size, gboolean *out_on_disk, GError **error)
{
	if (decoded_size <= inline_payload_max()) {
		int fd = memfd_create("ostick-part", MFD_CLOEXEC);

		if (fd >= 0) {
			*out_on_disk = FALSE;
			return fd;
		}
	}
	*out_on_disk = TRUE;
	return ostick_open_anonymous_tmpfile(tmp_dfd, error);
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
	guint64 written;
	guint64 limit; /* more is G_IO_ERROR_MESSAGE_TOO_LARGE */
} DecodeSink;

static gboolean
write_decoded(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	DecodeSink *out = user_data;

	if (out->written + len > out->limit)
		return g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
			       "the payload is over the inline limit"),
		       FALSE;
	out->written += len;
	return ostick_write_all(out->fd, data, len, error);
}

/* What staging held at most for a part: the decoded file, what was left of the member (its
 * blocks are freed as they are decoded, where the filesystem can punch holes), and one
 * release step of slack. */
static void
note_peak_staging(PartSink *sink, guint64 part_size, int member_fd)
{
	struct stat member_st;

	if (fstat(member_fd, &member_st) < 0)
		return;
	sink->options->peak_staging = MAX(sink->options->peak_staging,
		part_size + (guint64)member_st.st_blocks * 512 + 1024 * 1024);
}

/* The same for a part staged inline: the one-part superblock file @fd is the decoded file.
 * In memory, the peak was the staged member, whole, before its blocks were freed. */
static void
note_inline_staging(PartSink *sink, int fd, gboolean on_disk, int member_fd)
{
	struct stat st;

	if (fstat(on_disk ? fd : member_fd, &st) < 0)
		return;
	if (on_disk)
		note_peak_staging(sink, (guint64)st.st_size, member_fd);
	else
		sink->options->peak_staging = MAX(sink->options->peak_staging, (guint64)st.st_size);
}

/* ostree-xz (FORMAT.md §5.4): decoded by ostick, not libostree, so that the output is bounded
 * (libostree decodes a stream whole, whatever it holds) and goes to the repo's filesystem, not
 * $TMPDIR. The payload length is known only at the end: the inline part's prefix does not
 * depend on it (the superblock's offsets come after the value), and is checked again. In
 * memory (@on_disk FALSE), a payload over the inline limit stops the decoder with
 * G_IO_ERROR_MESSAGE_TOO_LARGE, and the member stays whole for streaming it instead. */
static gboolean
stage_xz_part(int fd, gboolean on_disk, int member_fd, const OstickSuperblock *sb, guint index,
	const OstickMember *part, PartSink *sink, GError **error)
{
	g_autoptr(GBytes) prefix = NULL;
	g_autoptr(GBytes) final_prefix = NULL;
	g_autoptr(GBytes) suffix = NULL;
	DecodeSink out = {fd, 0, on_disk ? G_MAXUINT64 : inline_payload_max()};
	guint64 bound = payload_bound(sb, index, part), payload_size = 0;

	ostick_superblock_layout_single_part(sb, index, 1 + bound, &prefix, &suffix);
	if (!write_bytes(fd, prefix, error) ||
		!ostick_write_all(fd, OSTICK_DELTA_PART_UNCOMPRESSED, 1, error) ||
		!ostick_xz_decode_part(member_fd, bound, on_disk, write_decoded, &out,
			&payload_size, sink->cancellable, error))
		return g_prefix_error(error, "part %u: ", index), FALSE;
	g_clear_pointer(&suffix, g_bytes_unref);
	ostick_superblock_layout_single_part(sb, index, 1 + payload_size, &final_prefix, &suffix);
	if (!g_bytes_equal(prefix, final_prefix))
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"part %u: cannot lay out its inline form", index);
	note_inline_staging(sink, fd, on_disk, member_fd);
	return write_bytes(fd, suffix, error);
}

/*
 * Large parts (FORMAT.md §5.7: zstd ones, and ostree-xz ones whose payload outgrows the inline
 * limit) reach libostree as a stream, never mapped whole by ostick:
 * the uncompressed inline form costs the part twice in memory (libostree maps the superblock,
 * and GLib copies the misaligned payload out of it). libostree reads a separate part file
 * through a stream when it is xz, and keeps only its decoded copy, in a file it maps. So the
 * decoded payload is wrapped as a stored (uncompressed) xz stream and fed through a pipe,
 * which the one-part superblock names as part file /proc/self/fd/N (N: the pipe's read end;
 * N empty headers come first, see ostick_superblock_build_streamed()).
 *
 * libostree checks a separate part file against its header's SHA-256, so the stream is made
 * twice: once for its size and checksum, which also decodes the whole frame within its bounds
 * before libostree sees a byte of it, then for the pipe.
 */
#define PIPE_BUFFER (1024 * 1024)

typedef struct {
	EVP_MD_CTX *sha256; /* the first time */
	int fd; /* the second: the pipe */
} StreamSink;

static gboolean
stream_out(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	StreamSink *out = user_data;

	if (out->sha256 != NULL) {
		ostick_sha256_update(out->sha256, data, len);
		return TRUE;
	}
	return ostick_write_all(out->fd, data, len, error);
}

static gboolean
stream_into_xz(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	return ostick_xz_stored_writer_write(user_data, data, len, error);
}

/* The part file libostree reads, made from the staged member: 'x', then the stored xz stream.
 * The payload is decoded within @bound (payload_bound()). */
static gboolean
stream_part(int member_fd, const OstickMember *part, guint64 bound, gboolean release_member,
	StreamSink *out, guint64 *out_size, GCancellable *cancellable, GError **error)
{
	g_autoptr(OstickXzStoredWriter) xz = NULL;
	guint64 xz_size = 0;
	gboolean ok;

	if (lseek(member_fd, 0, SEEK_SET) < 0)
		return ostick_throw_errno(error, "rewinding the staged part");
	if (!stream_out(OSTICK_DELTA_PART_XZ, 1, out, error))
		return FALSE;
	xz = ostick_xz_stored_writer_new(stream_out, out, error);
	if (xz == NULL)
		return FALSE;
	if (ostick_encoding_is_zstd(part->encoding))
		ok = ostick_zstd_decode(member_fd, bound,
			ostick_encoding_has_x86_branches(part->encoding), release_member,
			stream_into_xz, xz, cancellable, error);
	else
		ok = ostick_xz_decode_part(member_fd, bound, release_member, stream_into_xz, xz,
			NULL, cancellable, error);
	if (!ok || !ostick_xz_stored_writer_finish(xz, &xz_size, error))
		return FALSE;
	*out_size = 1 + xz_size;
	return TRUE;
}

typedef struct {
	int member_fd;
	const OstickMember *part;
	guint64 bound;
	int pipe_fd; /* the write end, closed when done */
	GCancellable *cancellable;
	GError *error;
} Feeder;

static gpointer
feed_pipe(gpointer data)
{
	Feeder *feeder = data;
	StreamSink out = {NULL, feeder->pipe_fd};
	sigset_t pipe_signal;
	guint64 size = 0;

	/* A reader that is gone makes EPIPE here, not a SIGPIPE that would end the process. */
	sigemptyset(&pipe_signal);
	sigaddset(&pipe_signal, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_signal, NULL);
	(void)stream_part(feeder->member_fd, feeder->part, feeder->bound, TRUE, &out, &size,
		feeder->cancellable, &feeder->error);
	ostick_fd_close(feeder->pipe_fd);
	feeder->pipe_fd = -1;
	return NULL;
}

/* The superblock for the pipe at @read_fd, in an anonymous file of its own. */
static int
stage_streamed_superblock(int tmp_dfd, const OstickSuperblock *sb, guint index, int read_fd,
	const guint8 *sha256, guint64 size, GError **error)
{
	g_autoptr(GBytes) superblock =
		ostick_superblock_build_streamed(sb, index, (guint)read_fd, sha256, size);
	g_auto(OstickFd) fd = ostick_open_anonymous_tmpfile(tmp_dfd, error);

	if (fd < 0 || !write_bytes(fd, superblock, error))
		return -1;
	return ostick_steal_fd(&fd);
}

/* Runs libostree on the streamed part while a thread feeds the pipe. On failure the feeder's
 * own error (I/O on the staged member, cancellation) says more than libostree's, which only
 * saw a stream end early; a feeder that libostree never read (a part whose objects are all
 * present) or stopped reading ends with EPIPE, which is no error of its own. */
static gboolean
execute_streamed(OstreeRepo *repo, int sb_fd, int *read_fd, Feeder *feeder, guint index,
	GCancellable *cancellable, GError **error)
{
	GThread *thread = g_thread_new("ostick-part", feed_pipe, feeder);
	g_autoptr(GError) feeder_error = NULL;
	gboolean ok = execute_staged(repo, sb_fd, index, cancellable, error);

	ostick_fd_close(*read_fd);
	*read_fd = -1;
	g_thread_join(thread);
	feeder_error = g_steal_pointer(&feeder->error);
	if (ok || feeder_error == NULL ||
		g_error_matches(feeder_error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
		return ok;
	g_clear_error(error);
	g_propagate_prefixed_error(error, g_steal_pointer(&feeder_error), "part %u: ", index);
	return FALSE;
}

static gboolean
apply_zstd_inline(OstreeRepo *repo, int tmp_dfd, const OstickSuperblock *sb, guint index,
	const OstickMember *part, int member_fd, PartSink *sink, GError **error)
{
	gboolean on_disk = FALSE;
	g_auto(OstickFd) fd = open_decoded_staging(tmp_dfd, part->payload_size, &on_disk, error);
	g_autoptr(GBytes) prefix = NULL;
	g_autoptr(GBytes) suffix = NULL;

	if (fd < 0)
		return FALSE;
	ostick_superblock_layout_single_part(sb, index, 1 + part->payload_size, &prefix, &suffix);
	if (!write_bytes(fd, prefix, error) ||
		!ostick_write_all(fd, OSTICK_DELTA_PART_UNCOMPRESSED, 1, error) ||
		!ostick_zstd_decode_fd(member_fd, fd, part->payload_size,
			ostick_encoding_has_x86_branches(part->encoding), TRUE, sink->cancellable,
			error) ||
		!write_bytes(fd, suffix, error))
		return g_prefix_error(error, "part %u: ", index), classify_error(error);
	note_inline_staging(sink, fd, on_disk, member_fd);
	/* Only now, hash verified and decoded, may libostree see the bytes. */
	return execute_staged(repo, fd, index, sink->cancellable, error);
}

static gboolean
apply_streamed(OstreeRepo *repo, int tmp_dfd, const OstickSuperblock *sb, guint index,
	const OstickMember *part, int member_fd, PartSink *sink, GError **error)
{
	g_autoptr(EVP_MD_CTX) sha256 = ostick_sha256_new();
	StreamSink digest = {sha256, -1};
	guint8 checksum[OSTICK_SHA256_LEN];
	g_auto(OstickFd) read_fd = -1;
	g_auto(OstickFd) sb_fd = -1;
	guint64 bound = payload_bound(sb, index, part);
	Feeder feeder = {member_fd, part, bound, -1, sink->cancellable, NULL};
	guint64 size = 0;
	int fds[2];

	if (!stream_part(member_fd, part, bound, FALSE, &digest, &size, sink->cancellable, error))
		return g_prefix_error(error, "part %u: ", index), classify_error(error);
	ostick_sha256_finish(sha256, checksum);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return ostick_throw_errno(error, "part %u: pipe", index);
	read_fd = fds[0];
	feeder.pipe_fd = fds[1];
	(void)fcntl(fds[1], F_SETPIPE_SZ, PIPE_BUFFER); /* fewer wake-ups; the default works */
	sb_fd = stage_streamed_superblock(tmp_dfd, sb, index, read_fd, checksum, size, error);
	if (sb_fd < 0) {
		ostick_fd_close(feeder.pipe_fd);
		return FALSE;
	}
	/* libostree's decoded copy, in $TMPDIR (point_tmpdir()), and what is left of the member. */
	note_peak_staging(sink, sink->streamed_in_memory ? 0 : size, member_fd);
	return execute_streamed(repo, sb_fd, &read_fd, &feeder, index, sink->cancellable, error);
}

/* A payload over the inline limit in memory (stage_xz_part()) is streamed instead. */
static gboolean
apply_xz_part(OstreeRepo *repo, int tmp_dfd, const OstickSuperblock *sb, guint index,
	const OstickMember *part, int member_fd, PartSink *sink, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	gboolean on_disk = FALSE;
	g_auto(OstickFd) fd = open_decoded_staging(tmp_dfd, part->decoded_size, &on_disk, error);

	if (fd < 0)
		return FALSE;
	if (!stage_xz_part(fd, on_disk, member_fd, sb, index, part, sink, &local_error)) {
		if (on_disk ||
			!g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
			return g_propagate_error(error, g_steal_pointer(&local_error)),
			       classify_error(error);
		ostick_fd_close(ostick_steal_fd(&fd));
		return apply_streamed(repo, tmp_dfd, sb, index, part, member_fd, sink, error);
	}
	/* Only now, hash verified and decoded, may libostree see the bytes. */
	return execute_staged(repo, fd, index, sink->cancellable, error);
}

/* No decoder may see a byte before its hash matched, so the member is staged on its own first,
 * then decoded: zstd and zstd-x86 (FORMAT.md §5.5, §5.8) at most to their signed payload-size,
 * ostree-xz (§5.4) within its bound. */
static gboolean
apply_part(OstreeRepo *repo, int tmp_dfd, OstickBundleReader *reader, const OstickSuperblock *sb,
	guint index, PartSink *sink, GError **error)
{
	const OstickMember *part = &ostick_bundle_reader_get_manifest(reader)->parts[index];
	g_auto(OstickFd) member_fd = -1;

	sink->state.parts_done = index;
	member_fd = stage_member(tmp_dfd, reader, index, sink, error);
	if (member_fd < 0)
		return classify_error(error);
	if (is_streamed(part))
		return apply_streamed(repo, tmp_dfd, sb, index, part, member_fd, sink, error);
	if (ostick_encoding_is_zstd(part->encoding))
		return apply_zstd_inline(repo, tmp_dfd, sb, index, part, member_fd, sink, error);
	return apply_xz_part(repo, tmp_dfd, sb, index, part, member_fd, sink, error);
}

static gboolean
check_complete(OstreeRepo *repo, const OstickManifest *m, GCancellable *cancellable, GError **error)
{
	g_autoptr(GError) local_error = NULL;

	/* Every object the target reaches must now exist: no fallback, nothing forgotten. A
	 * signed delta that leaves gaps is a broken bundle. The base passed the policy's check
	 * (present, not partial): what the target shares with it is there. */
	if (ostick_commit_check_complete(repo, m->target,
		    ostick_manifest_is_delta(m) ? m->base : NULL, cancellable, &local_error))
		return TRUE;
	if (g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return g_propagate_error(error, g_steal_pointer(&local_error)), FALSE;
	return ostick_throw(error, OSTICK_ERROR_CORRUPT,
		"target commit incomplete after the delta: %s", local_error->message);
}

static gboolean
apply_all(OstreeRepo *repo, OstickBundleReader *reader, const OstickSuperblock *sb,
	gboolean streamed_in_memory, OstickApplyOptions *options, GCancellable *cancellable,
	GError **error)
{
	const OstickManifest *m = ostick_bundle_reader_get_manifest(reader);
	PartSink sink = {-1, options, {OSTICK_STAGE_APPLY}, cancellable, streamed_in_memory};
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
		!check_complete(repo, m, cancellable, error))
		return FALSE;
	if (options->set_ref)
		ostree_repo_transaction_set_ref(repo, NULL, m->ref, m->target);
	return TRUE;
}

/* The largest payload of the parts that may be streamed, at most: those whose bound is over
 * the limit. That covers is_streamed()'s (a zstd bound is the payload, an ostree-xz one is over
 * the header's size) and the ostree-xz ones an inline attempt may stream (apply_xz_part()). */
static guint64
largest_streamed_payload(const OstickManifest *manifest, const OstickSuperblock *sb)
{
	guint64 largest = 0;

	for (guint i = 0; i < manifest->n_parts; i++) {
		guint64 bound = payload_bound(sb, i, &manifest->parts[i]);

		if (bound > inline_payload_max())
			largest = MAX(largest, bound);
	}
	return largest;
}

/* Whether libostree's decoded copies of the streamed parts may live in MEMORY_TMPDIR: each is
 * at most twice the inline limit (libostree maps its copy whole, so it is in memory while the
 * part runs wherever the file is, and counted in RSS alike; a tmpfs only makes it
 * unreclaimable, which the bound keeps small), and the tmpfs has room for it. */
static gboolean
streamed_copies_fit_in_memory(const OstickManifest *manifest, const OstickSuperblock *sb)
{
	guint64 largest = largest_streamed_payload(manifest, sb);
	struct statfs fs;

	if (largest == 0 || largest > 2 * inline_payload_max())
		return FALSE;
	if (statfs(MEMORY_TMPDIR, &fs) < 0 || fs.f_type != TMPFS_MAGIC ||
		access(MEMORY_TMPDIR, W_OK) < 0)
		return FALSE;
	return (guint64)fs.f_bavail * (guint64)fs.f_bsize > 2 * largest;
}

/* libostree puts temporary files of its own in $TMPDIR (default /var/tmp): a streamed part's
 * decoded copy (FORMAT.md §5.7). Bounded ones go to a tmpfs, off the device's storage; any
 * other stays on the repo's filesystem, where the space check counted it. Returns whether
 * they go to the tmpfs. */
static gboolean
point_tmpdir(OstreeRepo *repo, const OstickManifest *manifest, const OstickSuperblock *sb)
{
	g_autofree char *repo_path = g_file_get_path(ostree_repo_get_path(repo));
	g_autofree char *tmp = g_build_filename(repo_path, "tmp", NULL);
	gboolean in_memory = streamed_copies_fit_in_memory(manifest, sb);

	g_setenv("TMPDIR", in_memory ? MEMORY_TMPDIR : tmp, TRUE);
	return in_memory;
}

/* Whether the transaction's commit moved the ref after all (it fails only after the refs are
 * written, in its last steps): then the new objects are the ref's and must stay. */
static gboolean
ref_moved(OstreeRepo *repo, const OstickApplyOptions *options, const char *ref, const char *target)
{
	g_autofree char *now = NULL;

	if (!options->set_ref)
		return FALSE;
	return !ostree_repo_resolve_rev(repo, ref, TRUE, &now, NULL) || g_strcmp0(now, target) == 0;
}

/* Commits the transaction, first listing the objects it adds (into @options->added_objects).
 * A commit cut short (a full disk) has renamed some of them into objects/: those go again. */
static gboolean
commit(OstreeRepo *repo, const OstickManifest *manifest, GHashTable *staging_before,
	OstickApplyOptions *options, GCancellable *cancellable, GError **error)
{
	options->added_objects = ostick_added_objects_take(repo, staging_before);
	if (ostree_repo_commit_transaction(repo, NULL, cancellable, error))
		return TRUE;
	if (options->added_objects != NULL &&
		!ref_moved(repo, options, manifest->ref, manifest->target))
		ostick_added_objects_remove(repo, options->added_objects);
	g_clear_pointer(&options->added_objects, ostick_added_objects_free);
	return FALSE;
}

gboolean
ostick_apply_delta(OstreeRepo *repo, OstickBundleReader *reader, const OstickSuperblock *superblock,
	OstickApplyOptions *options, GCancellable *cancellable, GError **error)
{
	const OstickManifest *manifest = ostick_bundle_reader_get_manifest(reader);
	const char *target = manifest->target;

	g_autoptr(GHashTable) staging_before = ostick_staging_list(repo);
	gboolean streamed_in_memory = point_tmpdir(repo, manifest, superblock);

	options->added_objects = NULL;
	if (!ostree_repo_prepare_transaction(repo, NULL, cancellable, error))
		return FALSE;
	if (!ostree_repo_mark_commit_partial(repo, target, TRUE, error) ||
		!apply_all(repo, reader, superblock, streamed_in_memory, options, cancellable,
			error) ||
		!commit(repo, manifest, staging_before, options, cancellable, error)) {
		(void)ostree_repo_abort_transaction(repo, NULL, NULL);
		ostick_staging_remove_new(repo, staging_before);
		(void)ostree_repo_mark_commit_partial(repo, target, FALSE, NULL);
		return FALSE;
	}
	return ostree_repo_mark_commit_partial(repo, target, FALSE, error);
}
