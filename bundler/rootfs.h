/* rootfs.h: commit a root filesystem (a directory, or a .tar/.tar.gz/.tar.xz/.tar.zst) into an
 * OSTree repo laid out as libostree deploys it, so users need not know OSTree. */
#pragma once

#include <gio/gio.h>
#include <ostree.h>

G_BEGIN_DECLS

typedef struct {
	const char *path; /* directory or tarball */
	const char *ref; /* its current commit (if any) becomes the parent */
	const char *version; /* commit metadata "version" */
	guint64 timestamp; /* commit time (Unix seconds) */
} OstickRootfsOptions;

/* Commits @options->path into @repo as a child of @options->ref's commit (if any):
 *  - /etc moves to /usr/etc (libostree's /etc 3-way merge works from it);
 *  - a kernel in /boot (vmlinuz-VER, initrd.img-VER or initramfs-VER.img, dtbs/VER) moves to
 *    usr/lib/modules/VER/{vmlinuz,initramfs.img,dtb} where libostree looks for it;
 *  - the commit gets "version" and libostree's bootable metadata.
 * A tree without a kernel is refused: no device could boot it. The ref does not move: the caller
 * moves it once the bundle exists, so that after a failed run "--from REF" still names the same
 * commit. (transfer full) checksum. */
char *ostick_rootfs_commit(OstreeRepo *repo, const OstickRootfsOptions *options,
	GCancellable *cancellable, GError **error);

/* Opens the repo at @path, creating it in @mode if it does not exist. */
OstreeRepo *ostick_repo_open_or_create(
	const char *path, OstreeRepoMode mode, GCancellable *cancellable, GError **error);

G_END_DECLS
