/* prefetch.h: asking the storage, while the apply runs, for what libostree's deploy will read. */
#pragma once

#include "deploy.h"

#include <glib.h>

G_BEGIN_DECLS

typedef struct OstickPrefetch OstickPrefetch;

/* Starts a thread that reads ahead (posix_fadvise WILLNEED), without waiting for the reads:
 * the metadata objects (.dirtree, .dirmeta) of the repo at @repo_dfd, and below the deployment
 * directory @deployment_dfd the kernel and initramfs (usr/lib/modules/<version>/) and the
 * configuration the /etc merge compares (etc/, usr/etc/): regular files only, 64 MiB at most.
 * Both fds are duplicated; the thread calls no libostree function. NULL if no thread could be
 * started. (transfer full) */
OstickPrefetch *ostick_prefetch_start(int repo_dfd, int deployment_dfd);

/* The same for @device's repo and its merge deployment: NULL if it has none. (transfer full) */
OstickPrefetch *ostick_prefetch_start_for_deploy(OstickDevice *device);

/* Waits for the thread to be done with everything; returns the number of files it read ahead. */
guint ostick_prefetch_wait(OstickPrefetch *prefetch);

/* Stops the thread where it is, waits for it and frees @prefetch. */
void ostick_prefetch_free(OstickPrefetch *prefetch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickPrefetch, ostick_prefetch_free)

G_END_DECLS
