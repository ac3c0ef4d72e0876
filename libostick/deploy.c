/* deploy.c: sysroot state and deployment with libostree's sysroot API. */
#include "deploy.h"

#include "ostick-cleanup.h"
#include "ostick-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define ORIGIN_GROUP "ostick"

void
ostick_device_free(OstickDevice *device)
{
	if (device == NULL)
		return;
	if (device->locked)
		ostree_sysroot_unlock(device->sysroot);
	g_clear_object(&device->booted);
	g_clear_object(&device->current);
	g_clear_object(&device->merge);
	g_clear_object(&device->repo);
	g_clear_object(&device->sysroot);
	g_free(device->os);
	g_free(device);
}

static gboolean
lock_sysroot(OstickDevice *device, GError **error)
{
	gboolean acquired = FALSE;

	if (!ostree_sysroot_try_lock(device->sysroot, &acquired, error))
		return FALSE;
	if (!acquired)
		return ostick_throw(error, OSTICK_ERROR_BUSY,
			"another update (ostick or ostree) holds the sysroot lock");
	device->locked = TRUE;
	return TRUE;
}

/* libostree freezes the filesystem holding /boot around the bootloader switch, and its watchdog
 * thaws it only on a timeout, not when the deploying process dies: a run killed in between
 * leaves /boot frozen, and then even opening the sysroot lock blocks. So before locking, probe
 * the way the lock is opened (for writing) from a thread; if that has not returned within
 * FREEZE_PROBE_MS, the freeze is a leftover (libostree's own window is a sync and a rename):
 * thaw it. FITHAW on a filesystem that is not frozen fails with EINVAL and changes nothing. */
#define FREEZE_PROBE_MS 2000

typedef struct {
	int sysroot_fd;
	GMutex mutex;
	GCond cond;
	gboolean done;
	gint refs; /* the probe may outlive the caller while it is blocked */
} FreezeProbe;

static void
freeze_probe_unref(FreezeProbe *probe)
{
	if (!g_atomic_int_dec_and_test(&probe->refs))
		return;
	close(probe->sysroot_fd);
	g_mutex_clear(&probe->mutex);
	g_cond_clear(&probe->cond);
	g_free(probe);
}

static gpointer
open_lock_for_writing(gpointer data)
{
	FreezeProbe *probe = data;
	int fd = openat(probe->sysroot_fd, "ostree/lock",
		O_RDWR | O_CREAT | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
	g_mutex_lock(&probe->mutex);
	probe->done = TRUE;
	g_cond_signal(&probe->cond);
	g_mutex_unlock(&probe->mutex);
	freeze_probe_unref(probe);
	return NULL;
}

static void
thaw_leftover_freeze(const char *path)
{
	FreezeProbe *probe = g_new0(FreezeProbe, 1);
	gint64 deadline = g_get_monotonic_time() + FREEZE_PROBE_MS * G_TIME_SPAN_MILLISECOND;
	g_autofree char *boot = g_build_filename(path, "boot", NULL);
	gboolean frozen;

	probe->sysroot_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (probe->sysroot_fd < 0) {
		g_free(probe);
		return;
	}
	g_mutex_init(&probe->mutex);
	g_cond_init(&probe->cond);
	probe->refs = 2;
	g_thread_unref(g_thread_new("freeze-probe", open_lock_for_writing, probe));
	g_mutex_lock(&probe->mutex);
	while (!probe->done && g_cond_wait_until(&probe->cond, &probe->mutex, deadline))
		;
	frozen = !probe->done;
	g_mutex_unlock(&probe->mutex);
	if (frozen) {
		g_auto(OstickFd) boot_fd = open(boot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (boot_fd >= 0)
			(void)ioctl(boot_fd, FITHAW, 0);
	}
	freeze_probe_unref(probe);
}

static OstreeDeployment *
first_deployment_of(OstreeSysroot *sysroot, const char *os)
{
	g_autoptr(GPtrArray) deployments = ostree_sysroot_get_deployments(sysroot);

	for (guint i = 0; i < deployments->len; i++) {
		OstreeDeployment *d = deployments->pdata[i];

		if (strcmp(ostree_deployment_get_osname(d), os) == 0)
			return g_object_ref(d);
	}
	return NULL;
}

static gboolean
check_stateroot(OstickDevice *device, GError **error)
{
	g_autofree char *rel = g_build_filename("ostree/deploy", device->os, NULL);
	struct stat st;

	if (fstatat(ostree_sysroot_get_fd(device->sysroot), rel, &st, 0) < 0 ||
		!S_ISDIR(st.st_mode))
		return ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE,
			"this device has no OS (stateroot) named '%s'", device->os);
	return TRUE;
}

static gboolean
load_state(OstickDevice *device, const char *os, GError **error)
{
	OstreeDeployment *booted = ostree_sysroot_get_booted_deployment(device->sysroot);

	device->booted = booted ? g_object_ref(booted) : NULL;
	if (os != NULL)
		device->os = g_strdup(os);
	else if (booted != NULL)
		device->os = g_strdup(ostree_deployment_get_osname(booted));
	else
		return ostick_throw(error, OSTICK_ERROR_INCOMPATIBLE,
			"no OS name: the sysroot is not booted; configure [device] os or "
			"pass --os");
	if (!check_stateroot(device, error))
		return FALSE;
	device->current = first_deployment_of(device->sysroot, device->os);
	device->merge = ostree_sysroot_get_merge_deployment(device->sysroot, device->os);
	return TRUE;
}

OstickDevice *
ostick_device_open(
	const char *path, const char *os, gboolean lock, GCancellable *cancellable, GError **error)
{
	g_autoptr(OstickDevice) device = g_new0(OstickDevice, 1);
	g_autoptr(GFile) root = g_file_new_for_path(path);
	g_autofree char *repo_config = g_build_filename(path, "ostree/repo/config", NULL);

	if (!g_file_test(repo_config, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			"%s is not an OSTree sysroot (no ostree/repo)", path);
		return NULL;
	}
	device->sysroot = ostree_sysroot_new(root);
	/* Lock, then load: state loaded before another writer finished would be stale (its
	 * bootversion, deployments and merge deployment), and writing from it breaks theirs. */
	if (lock)
		thaw_leftover_freeze(path);
	if ((lock && !lock_sysroot(device, error)) ||
		!ostree_sysroot_load(device->sysroot, cancellable, error) ||
		!ostree_sysroot_get_repo(device->sysroot, &device->repo, cancellable, error) ||
		!load_state(device, os, error))
		return NULL;
	return g_steal_pointer(&device);
}

void
ostick_deployment_info_free(OstickDeploymentInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->checksum);
	g_free(info->version);
	g_free(info->refspec);
	g_free(info);
}

OstickDeploymentInfo *
ostick_device_describe(OstickDevice *device, OstreeDeployment *deployment)
{
	OstickDeploymentInfo *info = g_new0(OstickDeploymentInfo, 1);
	GKeyFile *origin = ostree_deployment_get_origin(deployment);
	g_autoptr(GVariant) commit = NULL;

	info->checksum = g_strdup(ostree_deployment_get_csum(deployment));
	info->index = ostree_deployment_get_index(deployment);
	info->booted = device->booted && ostree_deployment_equal(deployment, device->booted);
	info->is_default = device->current && ostree_deployment_equal(deployment, device->current);
	info->pinned = ostree_deployment_is_pinned(deployment);
	if (origin != NULL) {
		info->version = g_key_file_get_string(origin, ORIGIN_GROUP, "version", NULL);
		info->refspec = g_key_file_get_string(origin, "origin", "refspec", NULL);
	}
	if (ostree_repo_load_commit(device->repo, info->checksum, &commit, NULL, NULL)) {
		g_autoptr(GVariant) metadata = g_variant_get_child_value(commit, 0);

		info->timestamp = ostree_commit_get_timestamp(commit);
		if (info->version == NULL)
			(void)g_variant_lookup(metadata, "version", "s", &info->version);
	}
	return info;
}

GPtrArray *
ostick_device_list(OstickDevice *device)
{
	g_autoptr(GPtrArray) deployments = ostree_sysroot_get_deployments(device->sysroot);
	GPtrArray *infos =
		g_ptr_array_new_with_free_func((GDestroyNotify)ostick_deployment_info_free);

	for (guint i = 0; i < deployments->len; i++) {
		OstreeDeployment *d = deployments->pdata[i];

		if (strcmp(ostree_deployment_get_osname(d), device->os) == 0)
			g_ptr_array_add(infos, ostick_device_describe(device, d));
	}
	return infos;
}

char *
ostick_device_get_bootloader(OstickDevice *device)
{
	GKeyFile *config = ostree_repo_get_config(device->repo);
	char *value = g_key_file_get_string(config, "sysroot", "bootloader", NULL);

	return value ? value : g_strdup("auto");
}

/* libostree's U-Boot backend edits boot/loader/uEnv.txt and fails when it is missing, which it
 * is before the very first deployment (LIBOSTREE-NOTES). Create an empty one, as a fresh
 * boot/loader.0 behind the boot/loader symlink if there is no loader at all yet. */
static gboolean
ensure_uboot_env(OstickDevice *device, GError **error)
{
	int dfd = ostree_sysroot_get_fd(device->sysroot);
	struct stat st;

	if (fstatat(dfd, "boot/loader/uEnv.txt", &st, 0) == 0)
		return TRUE;
	if (fstatat(dfd, "boot/loader", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (mkdirat(dfd, "boot/loader.0", 0755) < 0 && errno != EEXIST)
			return ostick_throw_errno(error, "creating boot/loader.0");
		if (symlinkat("loader.0", dfd, "boot/loader") < 0)
			return ostick_throw_errno(error, "creating boot/loader");
	}
	{
		int fd = openat(dfd, "boot/loader/uEnv.txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			return ostick_throw_errno(error, "creating boot/loader/uEnv.txt");
		close(fd);
	}
	return TRUE;
}

/* libostree renames boot/loader (the switch) after its own freeze and thaw of /boot, so the
 * rename may sit only in the filesystem's journal when the power goes; a bootloader that reads
 * ext4 without replaying the journal (extlinux, U-Boot) then boots the old configuration while
 * Linux, replaying it, sees the new one as the default. Freezing and thawing the filesystem
 * again writes everything, the rename included, to its place. (A run killed between the two
 * leaves the freeze to the next install's probe.) Filesystems that cannot freeze get a sync. */
static void
flush_boot_journal(OstickDevice *device)
{
	g_auto(OstickFd) boot_fd = openat(
		ostree_sysroot_get_fd(device->sysroot), "boot", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (boot_fd < 0)
		return;
	if (ioctl(boot_fd, FIFREEZE, 0) == 0)
		(void)ioctl(boot_fd, FITHAW, 0);
	else
		(void)syncfs(boot_fd);
}

static GKeyFile *
make_origin(OstickDevice *device, const OstickManifest *manifest)
{
	GKeyFile *origin = ostree_sysroot_origin_new_from_refspec(device->sysroot, manifest->ref);

	g_key_file_set_string(origin, ORIGIN_GROUP, "version", manifest->version);
	g_key_file_set_string(origin, ORIGIN_GROUP, "compatible", manifest->compatible);
	g_key_file_set_string(origin, ORIGIN_GROUP, "bundle-created", manifest->created);
	return origin;
}

gboolean
ostick_device_move_ref(
	OstickDevice *device, const OstickManifest *manifest, gboolean sync, GError **error)
{
	g_autofree char *now = NULL;
	gboolean was_disabled = ostree_repo_get_disable_fsync(device->repo);
	gboolean ok;

	if (ostree_repo_resolve_rev(device->repo, manifest->ref, TRUE, &now, NULL) &&
		g_strcmp0(now, manifest->target) == 0)
		return TRUE;
	ostree_repo_set_disable_fsync(device->repo, was_disabled || !sync);
	ok = ostree_repo_set_ref_immediate(
		device->repo, NULL, manifest->ref, manifest->target, NULL, error);
	ostree_repo_set_disable_fsync(device->repo, was_disabled);
	if (!ok)
		return g_prefix_error(error, "the ref %s was not moved to %.12s: ", manifest->ref,
			       manifest->target),
		       FALSE;
	return TRUE;
}

gboolean
ostick_device_deploy(OstickDevice *device, const OstickManifest *manifest,
	const OstickDeployOptions *options, GError **ref_error, GCancellable *cancellable,
	GError **error)
{
	g_autoptr(GKeyFile) origin = make_origin(device, manifest);
	g_autoptr(OstreeDeployment) deployment = NULL;
	g_autofree char *bootloader = ostick_device_get_bootloader(device);
	/* Without override_kernel_argv libostree inherits the merge deployment's arguments. */
	OstreeSysrootDeployTreeOpts opts = {
		.override_kernel_argv = options ? (char **)options->kargs : NULL};

	if (strcmp(bootloader, "uboot") == 0 && !ensure_uboot_env(device, error))
		return FALSE;
	if (!ostree_sysroot_deploy_tree_with_options(device->sysroot, device->os, manifest->target,
		    origin, device->merge, &opts, &deployment, cancellable, error))
		return g_prefix_error(error, "deploying %.12s: ", manifest->target), FALSE;
	if (options && options->prepare &&
		!options->prepare(device, deployment, options->prepare_data, error))
		return FALSE;
	/* Keeps the booted (or merge) deployment as rollback. NO_CLEAN: libostree's own cleanup
	 * runs after the bootloader switch, and its failure would report a live deployment as
	 * failed; once the switch is done, the install is. */
	if (!ostree_sysroot_simple_write_deployment(device->sysroot, device->os, deployment,
		    device->merge, OSTREE_SYSROOT_SIMPLE_WRITE_DEPLOYMENT_FLAGS_NO_CLEAN,
		    cancellable, error))
		return g_prefix_error(error, "writing the boot configuration: "), FALSE;
	/* Live now: the ref follows. Unsynced: the flush below writes it out with the rest when
	 * /boot is on the repo's filesystem, as it mostly is; else the filesystem's next commit
	 * does (a ref left behind by a power cut is moved by the retry). */
	(void)ostick_device_move_ref(device, manifest, FALSE, ref_error);
	flush_boot_journal(device);
	return TRUE;
}

GHashTable *
ostick_device_roots(OstickDevice *device, const char *ref_commit)
{
	g_autoptr(GPtrArray) deployments = ostree_sysroot_get_deployments(device->sysroot);
	GHashTable *roots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < deployments->len; i++)
		g_hash_table_add(
			roots, g_strdup(ostree_deployment_get_csum(deployments->pdata[i])));
	if (ref_commit != NULL)
		g_hash_table_add(roots, g_strdup(ref_commit));
	return roots;
}

/* Whether a commit of @roots_before is neither deployed now nor @ref_commit. The ref and the
 * deployments are all that changed, so only then can an object have lost its last reference. */
static gboolean
lost_a_root(OstickDevice *device, GHashTable *roots_before, const char *ref_commit)
{
	g_autoptr(GHashTable) roots_now = NULL;
	GHashTableIter iter;
	gpointer commit;

	if (roots_before == NULL)
		return TRUE;
	roots_now = ostick_device_roots(device, ref_commit);
	g_hash_table_iter_init(&iter, roots_before);
	while (g_hash_table_iter_next(&iter, &commit, NULL))
		if (!g_hash_table_contains(roots_now, commit))
			return TRUE;
	return FALSE;
}

gboolean
ostick_device_cleanup(
	OstickDevice *device, GHashTable *roots_before, const char *ref_commit, GError **error)
{
	/* A prune walks every commit the refs reach and lists every object: on an A -> B install
	 * that keeps A, a tenth of the install's time (bench/README.md), and it can free nothing. */
	gboolean prune = lost_a_root(device, roots_before, ref_commit);

	/* Not cancellable: the new deployment is live whatever happens here, and an interrupted
	 * prune only leaves garbage for the next cleanup. */
	if (!(prune ? ostree_sysroot_cleanup(device->sysroot, NULL, error)
		    : ostree_sysroot_prepare_cleanup(device->sysroot, NULL, error)))
		return g_prefix_error(error, "cleaning up old deployments: "), FALSE;
	return TRUE;
}

gboolean
ostick_device_discard_failed_deploy(OstickDevice *device)
{
	/* Reload from disk: the boot configuration on disk, not what the failed call had built,
	 * says which deployments are live. prepare_cleanup removes every checkout and boot file
	 * it does not reference, without pruning the repo. */
	if (!ostree_sysroot_load(device->sysroot, NULL, NULL))
		return FALSE;
	(void)ostree_sysroot_prepare_cleanup(device->sysroot, NULL, NULL);
	return TRUE;
}
