/* ostick-glib-checksum.h: GLib's g_checksum_*() over OpenSSL, in ostick's executables only
 * (ostick-glib-checksum.c says why and how). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How many checksums OpenSSL has computed in this process: 0 where the dynamic linker bound
 * g_checksum_new() to GLib's (a program without the export). */
guint ostick_glib_checksum_openssl_count(void);

G_END_DECLS
