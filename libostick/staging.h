/* staging.h: libostree's transaction staging directories (repo/tmp/staging-*), and the loose
 * objects a transaction adds to the repo, so that a failed install can take them back out. */
#pragma once

#include <gio/gio.h>
#include <ostree.h>

G_BEGIN_DECLS

/* The names of the staging directories there are now. (transfer full): a set of names */
GHashTable *ostick_staging_list(OstreeRepo *repo);

/* Removes the staging directories that appeared since @before (an empty set: all of them),
 * under libostree's own lock; one another process holds, or that was there before (it may be
 * theirs), stays. */
void ostick_staging_remove_new(OstreeRepo *repo, GHashTable *before);

/* The objects the open transaction has staged: what its commit will add to objects/. */
typedef struct OstickAddedObjects OstickAddedObjects;

/* Lists them, in the one staging directory that appeared since @before (or, if libostree reused
 * one of those, the one whose lock is held), just before the commit. NULL when that directory
 * cannot be told apart: then nothing will be taken back. */
OstickAddedObjects *ostick_added_objects_take(OstreeRepo *repo, GHashTable *before);

/* Removes from objects/ those of @added that left the staging directory (renamed there by a
 * commit, whole or cut short), and the object directories the commit created. Only for objects
 * no ref and no deployment refers to: the transaction's ref was not set, its deploy failed. */
void ostick_added_objects_remove(OstreeRepo *repo, const OstickAddedObjects *added);

void ostick_added_objects_free(OstickAddedObjects *added);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OstickAddedObjects, ostick_added_objects_free)

G_END_DECLS
