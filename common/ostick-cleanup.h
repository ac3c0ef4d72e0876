/* ostick-cleanup.h: the only place defining g_auto cleanups for foreign types
 * (OpenSSL, libarchive, zstd, libudev, directory streams, plain file descriptors). GLib 2.74 has no g_autofd. */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <libudev.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <unistd.h>
#include <zstd.h>

typedef struct archive OstickArchive;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickArchive, archive_free)
typedef struct archive_entry OstickArchiveEntry;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickArchiveEntry, archive_entry_free)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIO, BIO_free_all)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ECDSA_SIG, ECDSA_SIG_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIGNUM, BN_free)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(ZSTD_CCtx, ZSTD_freeCCtx)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ZSTD_DCtx, ZSTD_freeDCtx)

typedef struct udev OstickUdev;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickUdev, udev_unref)
typedef struct udev_device OstickUdevDevice;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickUdevDevice, udev_device_unref)
typedef struct udev_monitor OstickUdevMonitor;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickUdevMonitor, udev_monitor_unref)
typedef struct udev_enumerate OstickUdevEnumerate;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickUdevEnumerate, udev_enumerate_unref)

typedef DIR OstickDir;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickDir, closedir)

/* A file descriptor closed at scope exit: g_auto(OstickFd) fd = open(..., O_CLOEXEC); */
typedef int OstickFd;
static inline void
ostick_fd_close(int fd)
{
	int errsv = errno;

	if (fd >= 0)
		(void)close(fd);
	errno = errsv;
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(OstickFd, ostick_fd_close, -1)

/* Hands the descriptor out and leaves -1 behind (g_steal_pointer for fds). */
static inline int
ostick_steal_fd(int *fdp)
{
	int fd = *fdp;

	*fdp = -1;
	return fd;
}
