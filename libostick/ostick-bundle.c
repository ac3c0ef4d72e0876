/* ostick-bundle.c: the public bundle handle (ostick.h): open, inspect, verify, install. */
#include "ostick.h"

#include "install.h"
#include "ostick-bundle-reader.h"
#include "ostick-error.h"
#include "ostick-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct _OstickBundle {
	int fd; /* owned */
	off_t start; /* where the bundle starts in @fd; -1 when @fd cannot seek */
	gboolean read_once;
	OstickBundleReader *reader; /* of the last successful inspect or verify, else NULL */
};

const char *
ostick_get_version(void)
{
	return OSTICK_VERSION;
}

static OstickBundle *
bundle_new(int fd)
{
	OstickBundle *bundle = g_new0(OstickBundle, 1);
	struct stat st;

	bundle->fd = fd;
	bundle->start = -1;
	/* Only regular files rewind: a block device or a pipe may serve other bytes next time. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		bundle->start = lseek(fd, 0, SEEK_CUR);
	return bundle;
}

OstickBundle *
ostick_bundle_open(const char *path, GError **error)
{
	int fd;
	struct stat st;

	g_return_val_if_fail(path != NULL, NULL);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ostick_throw_errno(error, "%s", path);
		return NULL;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		ostick_throw_errno_value(error, EISDIR, "%s", path);
		return NULL;
	}
	return bundle_new(fd);
}

OstickBundle *
ostick_bundle_open_fd(int fd, GError **error)
{
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	if (own < 0) {
		ostick_throw_errno(error, "descriptor %d", fd);
		return NULL;
	}
	return bundle_new(own);
}

void
ostick_bundle_free(OstickBundle *bundle)
{
	if (bundle == NULL)
		return;
	g_clear_pointer(&bundle->reader, ostick_bundle_reader_free);
	close(bundle->fd);
	g_free(bundle);
}

int
ostick_bundle_begin_read(OstickBundle *bundle, GError **error)
{
	g_clear_pointer(&bundle->reader, ostick_bundle_reader_free);
	if (bundle->read_once) {
		if (bundle->start < 0) {
			g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
				"the bundle is a stream that was already read: it can be read "
				"only once");
			return -1;
		}
		if (lseek(bundle->fd, bundle->start, SEEK_SET) < 0)
			return ostick_throw_errno(error, "rewinding the bundle"), -1;
	}
	bundle->read_once = TRUE;
	return bundle->fd;
}

gboolean
ostick_bundle_inspect(OstickBundle *bundle, const OstickKeyring *keyring, GCancellable *cancellable,
	GError **error)
{
	g_autoptr(OstickBundleReader) reader = NULL;
	int fd = ostick_bundle_begin_read(bundle, error);

	if (fd < 0 || (reader = ostick_bundle_reader_new(fd, cancellable, error)) == NULL)
		return FALSE;
	if (keyring ? !ostick_bundle_reader_verify(reader, keyring, error)
		    : !ostick_bundle_reader_read_unverified(reader, error))
		return FALSE;
	bundle->reader = g_steal_pointer(&reader);
	return TRUE;
}

typedef struct {
	OstickProgressFunc func;
	gpointer data;
	OstickProgress progress;
	gint64 start_us;
} VerifyProgress;

static gboolean
count_chunk(const guint8 *data, gsize len, gpointer user_data, GError **error)
{
	VerifyProgress *p = user_data;

	p->progress.bytes_done += len;
	p->progress.elapsed_us = g_get_monotonic_time() - p->start_us;
	if (p->func)
		p->func(&p->progress, p->data);
	return TRUE;
}

static gboolean
read_payload(
	OstickBundleReader *reader, VerifyProgress *p, GCancellable *cancellable, GError **error)
{
	const OstickManifest *m = ostick_bundle_reader_get_manifest(reader);

	p->progress.bytes_total = m->superblock.size;
	for (guint i = 0; i < m->n_parts; i++)
		p->progress.bytes_total += m->parts[i].size;
	p->progress.parts_total = m->n_parts;
	if (ostick_bundle_reader_read_superblock(reader, error) == NULL)
		return FALSE;
	p->progress.bytes_done = m->superblock.size;
	for (guint i = 0; i < m->n_parts; i++) {
		p->progress.parts_done = i;
		if (g_cancellable_set_error_if_cancelled(cancellable, error) ||
			!ostick_bundle_reader_check_part(reader, i, count_chunk, p, NULL, error))
			return FALSE;
	}
	p->progress.parts_done = m->n_parts;
	return ostick_bundle_reader_finish(reader, error);
}

gboolean
ostick_bundle_verify(OstickBundle *bundle, const OstickKeyring *keyring,
	OstickProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
	GError **error)
{
	g_autoptr(OstickBundleReader) reader = NULL;
	VerifyProgress p = {progress, progress_data, {OSTICK_STAGE_VERIFY}, g_get_monotonic_time()};
	int fd;

	g_return_val_if_fail(keyring != NULL, FALSE);
	fd = ostick_bundle_begin_read(bundle, error);
	if (fd < 0 || (reader = ostick_bundle_reader_new(fd, cancellable, error)) == NULL ||
		!ostick_bundle_reader_verify(reader, keyring, error) ||
		!read_payload(reader, &p, cancellable, error))
		return FALSE;
	if (progress) {
		OstickProgress done = {OSTICK_STAGE_DONE, p.progress.bytes_done,
			p.progress.bytes_total, p.progress.parts_done, p.progress.parts_total,
			g_get_monotonic_time() - p.start_us};

		progress(&done, progress_data);
	}
	bundle->reader = g_steal_pointer(&reader);
	return TRUE;
}

/* ---- What the manifest says ---- */

static const OstickManifest *
manifest_of(OstickBundle *bundle)
{
	return bundle->reader ? ostick_bundle_reader_get_manifest(bundle->reader) : NULL;
}

#define MANIFEST_GETTER(type, name, expr, none)                                                    \
	type ostick_bundle_get_##name(OstickBundle *bundle)                                        \
	{                                                                                          \
		const OstickManifest *m = manifest_of(bundle);                                     \
                                                                                                   \
		return m ? (expr) : (none);                                                        \
	}

MANIFEST_GETTER(const char *, compatible, m->compatible, NULL)
MANIFEST_GETTER(const char *, version, m->version, NULL)
MANIFEST_GETTER(const char *, os, m->os, NULL)
MANIFEST_GETTER(const char *, ref, m->ref, NULL)
MANIFEST_GETTER(const char *, target, m->target, NULL)
MANIFEST_GETTER(const char *, base, m->base[0] ? m->base : NULL, NULL)
MANIFEST_GETTER(const char *, description, m->description, NULL)
MANIFEST_GETTER(const char *, created, m->created, NULL)
MANIFEST_GETTER(guint64, target_timestamp, m->target_timestamp, 0)
MANIFEST_GETTER(guint64, install_size, m->install_size, 0)
MANIFEST_GETTER(guint, n_parts, m->n_parts, 0)

guint64
ostick_bundle_get_payload_size(OstickBundle *bundle)
{
	const OstickManifest *m = manifest_of(bundle);
	guint64 total;

	if (m == NULL)
		return 0;
	total = m->superblock.size;
	for (guint i = 0; i < m->n_parts; i++)
		total += m->parts[i].size;
	return total;
}

gboolean
ostick_bundle_is_verified(OstickBundle *bundle)
{
	return bundle->reader && ostick_bundle_reader_is_verified(bundle->reader);
}

const char *const *
ostick_bundle_get_signer_ids(OstickBundle *bundle)
{
	return ostick_bundle_is_verified(bundle)
		       ? ostick_bundle_reader_get_signer_ids(bundle->reader)
		       : NULL;
}

GBytes *
ostick_bundle_get_manifest_bytes(OstickBundle *bundle)
{
	return bundle->reader ? ostick_bundle_reader_get_manifest_bytes(bundle->reader) : NULL;
}

/* ---- Installing ---- */

enum { OWNED_SYSROOT, OWNED_OS, OWNED_COMPATIBLE };

OstickInstallOptions *
ostick_install_options_new(void)
{
	OstickInstallOptions *options = g_new0(OstickInstallOptions, 1);

	options->sysroot = "/";
	options->record = TRUE;
	return options;
}

void
ostick_install_options_free(OstickInstallOptions *options)
{
	if (options == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(options->owned_strings); i++)
		g_free(options->owned_strings[i]);
	g_free(options);
}

static const char *
keep_string(OstickInstallOptions *options, guint slot, const char *value)
{
	g_free(options->owned_strings[slot]);
	options->owned_strings[slot] = g_strdup(value);
	return options->owned_strings[slot];
}

void
ostick_install_options_set_sysroot(OstickInstallOptions *options, const char *path)
{
	options->sysroot = path ? keep_string(options, OWNED_SYSROOT, path) : "/";
}

void
ostick_install_options_set_os(OstickInstallOptions *options, const char *os)
{
	options->os = keep_string(options, OWNED_OS, os);
}

void
ostick_install_options_set_compatible(OstickInstallOptions *options, const char *compatible)
{
	options->compatible = keep_string(options, OWNED_COMPATIBLE, compatible);
}

void
ostick_install_options_set_keyring(OstickInstallOptions *options, const OstickKeyring *keyring)
{
	options->keyring = keyring;
}

void
ostick_install_options_set_allow_downgrade(OstickInstallOptions *options, gboolean allow)
{
	options->allow_downgrade = allow;
}

void
ostick_install_options_set_deploy(OstickInstallOptions *options, gboolean deploy)
{
	options->no_deploy = !deploy;
}

void
ostick_install_options_set_dry_run(OstickInstallOptions *options, gboolean dry_run)
{
	options->verify_only = dry_run;
}

void
ostick_install_options_set_record(OstickInstallOptions *options, gboolean record)
{
	options->record = record;
}

void
ostick_install_options_set_progress(
	OstickInstallOptions *options, OstickProgressFunc progress, gpointer user_data)
{
	options->progress = progress;
	options->progress_data = user_data;
}

gboolean
ostick_bundle_install(OstickBundle *bundle, const OstickInstallOptions *options,
	OstickInstallResult *result, GCancellable *cancellable, GError **error)
{
	int fd;

	g_return_val_if_fail(bundle != NULL && options != NULL && result != NULL, FALSE);
	result->outcome = OSTICK_OUTCOME_FAILED;
	if (options->keyring == NULL)
		return ostick_throw(error, OSTICK_ERROR_SIGNATURE,
			"no trusted keyring given: nothing can be verified");
	fd = ostick_bundle_begin_read(bundle, error);
	if (fd < 0)
		return FALSE;
	return ostick_install(fd, options, result, cancellable, error);
}
