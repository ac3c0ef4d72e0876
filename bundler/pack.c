/* pack.c: manifest payload entries from a delta directory, signatures, and the tar container. */
#include "pack.h"

#include "encode.h"

#include "ostick-bundle-writer.h"
#include "ostick-cleanup.h"
#include "ostick-error.h"
#include "ostick-file.h"
#include "ostick-hash.h"
#include "ostick-sigblock.h"
#include "ostick-superblock.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_CHUNK (1024 * 1024)

static gboolean
hash_file(const char *path, guint64 *out_size, char out_sha256[OSTICK_SHA256_HEX_LEN + 1],
	GCancellable *cancellable, GError **error)
{
	g_auto(OstickFd) fd = open(path, O_RDONLY | O_CLOEXEC);
	g_autoptr(EVP_MD_CTX) hash = ostick_sha256_new();
	g_autofree guint8 *buf = g_malloc(HASH_CHUNK);
	guint64 size = 0;

	if (fd < 0)
		return ostick_throw_errno(error, "%s", path);
	for (;;) {
		gsize n = 0;

		if (g_cancellable_set_error_if_cancelled(cancellable, error) ||
			!ostick_read_all(fd, buf, HASH_CHUNK, &n, error))
			return FALSE;
		if (n == 0)
			break;
		ostick_sha256_update(hash, buf, n);
		size += n;
	}
	ostick_sha256_finish_hex(hash, out_sha256);
	*out_size = size;
	return TRUE;
}

/* The file that holds part @index of the delta in @dir, as it goes into the bundle. */
static char *
part_path(const char *dir, guint index, const char *encoding)
{
	gboolean zstd = ostick_encoding_is_zstd(encoding);

	return g_strdup_printf("%s/%u%s", dir, index, zstd ? ".zst" : "");
}

typedef struct {
	char *xz_path;
	char *zst_path;
	int level;
	OstickBranchChoice branches;
	guint64 size_hint;
	gboolean x86;
	guint64 payload_size;
	GCancellable *cancellable;
	GError *error;
} EncodeJob;

static void
encode_job_run(gpointer data, gpointer user_data)
{
	EncodeJob *job = data;

	/* One worker per part, parts in parallel: zstd splits a frame into jobs of several
	 * windows, so threads within one part of this size would mostly wait. */
	if (ostick_encode_part_zstd(job->xz_path, job->zst_path, job->level, 1, job->size_hint,
		    job->branches, &job->x86, &job->payload_size, job->cancellable, &job->error))
		(void)unlink(job->xz_path); /* the build needs one copy of each part */
}

static void
encode_job_clear(EncodeJob *job)
{
	g_free(job->xz_path);
	g_free(job->zst_path);
	g_clear_error(&job->error);
}

/* zstd: every part N (libostree's xz) becomes N.zst, as many at a time as there are cores;
 * `zstd-x86` where the x86 branch conversion was used. */
static gboolean
encode_parts(const char *dir, const OstickPackOptions *options, OstickManifest *manifest,
	GCancellable *cancellable, GError **error)
{
	g_autofree EncodeJob *jobs = g_new0(EncodeJob, manifest->n_parts);
	GThreadPool *pool =
		g_thread_pool_new(encode_job_run, NULL, (gint)g_get_num_processors(), FALSE, NULL);
	gboolean ok = TRUE;

	for (guint i = 0; i < manifest->n_parts; i++) {
		jobs[i] = (EncodeJob){part_path(dir, i, OSTICK_ENCODING_OSTREE_XZ),
			part_path(dir, i, OSTICK_ENCODING_ZSTD), options->zstd_level,
			options->branches, manifest->parts[i].decoded_size, FALSE, 0, cancellable,
			NULL};
		g_thread_pool_push(pool, &jobs[i], NULL);
	}
	g_thread_pool_free(pool, FALSE, TRUE);
	for (guint i = 0; i < manifest->n_parts; i++) {
		OstickMember *member = &manifest->parts[i];

		if (ok && jobs[i].error != NULL) {
			g_propagate_prefixed_error(
				error, g_steal_pointer(&jobs[i].error), "encoding part %u: ", i);
			ok = FALSE;
		}
		if (ok) {
			g_free(member->encoding);
			member->encoding = g_strdup(
				jobs[i].x86 ? OSTICK_ENCODING_ZSTD_X86 : OSTICK_ENCODING_ZSTD);
			member->payload_size = jobs[i].payload_size;
			ok = hash_file(jobs[i].zst_path, &member->size, member->sha256, cancellable,
				error);
		}
		encode_job_clear(&jobs[i]);
	}
	return ok;
}

static gboolean
describe_part(const char *dir, const OstickSuperblock *sb, guint index,
	const OstickPackOptions *options, OstickMember *member, GCancellable *cancellable,
	GError **error)
{
	g_autofree char *path = part_path(dir, index, OSTICK_ENCODING_OSTREE_XZ);
	OstickDeltaPartInfo info;

	ostick_superblock_get_part(sb, index, &info);
	if (!hash_file(path, &member->size, member->sha256, cancellable, error))
		return FALSE;
	/* What libostree wrote must be what its header says, or stock apply-offline would fail. */
	if (member->size != info.size || strcmp(member->sha256, info.checksum) != 0)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"delta part %u does not match its superblock header", index);
	member->encoding = g_strdup(options->encoding);
	member->decoded_size = info.uncompressed_size;
	return TRUE;
}

gboolean
ostick_pack_describe_delta(const char *dir, guint64 created, const OstickPackOptions *options,
	OstickManifest *manifest, GBytes **out_superblock, GCancellable *cancellable,
	GError **error)
{
	g_autofree char *path = g_build_filename(dir, "superblock", NULL);
	g_autofree char *contents = NULL;
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(OstickSuperblock) sb = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &contents, &len, error))
		return FALSE;
	if (len > OSTICK_SUPERBLOCK_MAX_SIZE)
		return ostick_throw(error, OSTICK_ERROR_FORMAT,
			"superblock of %zu bytes exceeds the format's limit", len);
	bytes = g_bytes_new_take(g_steal_pointer(&contents), len);
	sb = ostick_superblock_parse(bytes, error);
	if (sb == NULL)
		return FALSE;
	ostick_superblock_set_timestamp((guint8 *)g_bytes_get_data(bytes, NULL), len, created);
	manifest->superblock.size = len;
	manifest->superblock.encoding = g_strdup(OSTICK_ENCODING_NONE);
	ostick_sha256_hex(g_bytes_get_data(bytes, NULL), len, manifest->superblock.sha256);
	ostick_manifest_set_n_parts(manifest, ostick_superblock_get_n_parts(sb));
	for (guint i = 0; i < manifest->n_parts; i++) {
		if (!describe_part(dir, sb, i, options, &manifest->parts[i], cancellable, error))
			return FALSE;
	}
	if (g_str_equal(options->encoding, OSTICK_ENCODING_ZSTD) &&
		!encode_parts(dir, options, manifest, cancellable, error))
		return FALSE;
	*out_superblock = g_steal_pointer(&bytes);
	return TRUE;
}

GBytes *
ostick_pack_sign(GBytes *manifest_bytes, GPtrArray *keys, GError **error)
{
	g_autofree OstickSignature *sigs = g_new0(OstickSignature, MAX(keys->len, 1));
	gsize len = 0;
	const guint8 *msg = g_bytes_get_data(manifest_bytes, &len);

	if (keys->len == 0 || keys->len > OSTICK_SIG_MAX_COUNT) {
		ostick_throw(error, OSTICK_ERROR_KEY, "between 1 and %d signing keys are needed",
			OSTICK_SIG_MAX_COUNT);
		return NULL;
	}
	for (guint i = 0; i < keys->len; i++) {
		if (!ostick_sign(keys->pdata[i], msg, len, &sigs[i], error))
			return NULL;
		for (guint j = 0; j < i; j++) {
			if (memcmp(sigs[i].key_id, sigs[j].key_id, OSTICK_KEY_ID_LEN) == 0) {
				ostick_throw(
					error, OSTICK_ERROR_KEY, "the same key is given twice");
				return NULL;
			}
		}
	}
	return ostick_sigblock_serialize(sigs, keys->len);
}

typedef struct {
	OstickProgressFunc func;
	gpointer user_data;
	OstickProgress state;
	guint64 member_base;
	gint64 start_us;
} PackProgress;

static void
report(PackProgress *p, guint64 member_done)
{
	if (p->func == NULL)
		return;
	p->state.bytes_done = p->member_base + member_done;
	p->state.elapsed_us = g_get_monotonic_time() - p->start_us;
	p->func(&p->state, p->user_data);
}

static void
on_part_progress(guint64 done, gpointer user_data)
{
	report(user_data, done);
}

static gboolean
write_parts(OstickBundleWriter *writer, const char *dir, const OstickManifest *manifest,
	PackProgress *progress, GCancellable *cancellable, GError **error)
{
	for (guint i = 0; i < manifest->n_parts; i++) {
		g_autofree char *file = part_path(dir, i, manifest->parts[i].encoding);
		g_autofree char *name = ostick_part_member_name(i);
		g_auto(OstickFd) fd = open(file, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return ostick_throw_errno(error, "%s", file);
		if (g_cancellable_set_error_if_cancelled(cancellable, error) ||
			!ostick_bundle_writer_add_fd(writer, name, fd, manifest->parts[i].size,
				on_part_progress, progress, error))
			return FALSE;
		progress->member_base += manifest->parts[i].size;
		progress->state.parts_done = i + 1;
	}
	return TRUE;
}

gboolean
ostick_pack_write(const char *output, gboolean overwrite, gint64 mtime, GBytes *manifest_bytes,
	GBytes *sigblock, GBytes *superblock, const char *dir, const OstickManifest *manifest,
	OstickProgressFunc progress_func, gpointer user_data, GCancellable *cancellable,
	GError **error)
{
	g_autoptr(OstickOutputFile) out = ostick_output_file_new(output, overwrite, 0644, error);
	g_autoptr(OstickBundleWriter) writer = NULL;
	PackProgress progress = {
		progress_func, user_data, {OSTICK_STAGE_PACK}, 0, g_get_monotonic_time()};

	if (out == NULL)
		return FALSE;
	progress.state.parts_total = manifest->n_parts;
	progress.state.bytes_total = manifest->superblock.size;
	for (guint i = 0; i < manifest->n_parts; i++)
		progress.state.bytes_total += manifest->parts[i].size;
	writer = ostick_bundle_writer_new(ostick_output_file_get_fd(out), mtime, error);
	if (writer == NULL ||
		!ostick_bundle_writer_add_bytes(
			writer, OSTICK_MEMBER_MANIFEST, manifest_bytes, error) ||
		!ostick_bundle_writer_add_bytes(
			writer, OSTICK_MEMBER_SIGNATURES, sigblock, error) ||
		!ostick_bundle_writer_add_bytes(
			writer, OSTICK_MEMBER_SUPERBLOCK, superblock, error))
		return FALSE;
	progress.member_base = manifest->superblock.size;
	if (!write_parts(writer, dir, manifest, &progress, cancellable, error) ||
		!ostick_bundle_writer_close(writer, error))
		return FALSE;
	report(&progress, 0);
	return ostick_output_file_commit(out, error);
}
