/* SPDX-License-Identifier: GPL-3.0-or-later
 * Loading libnotmuch at run time (see notmuch-private.h): dlopen() of its soname and one
 * dlsym() per function the module calls, once per process. */
#include "nms-build.h"

#define NMS_NOTMUCH_LOADER
#include "notmuch/notmuch.h"

#include <dlfcn.h>

#include "notmuch/notmuch-private.h"

/* The soname nmsync was built against: libnotmuch 5.x (notmuch 0.37 ships 5.6). */
#define LIBNOTMUCH_SONAME "libnotmuch.so." G_STRINGIFY (LIBNOTMUCH_MAJOR_VERSION)

NmsNotmuchApi nms_notmuch_api;

/* The outcome of the one attempt: NULL when loaded, else why not (owned, never freed). */
static char *load_failure;

static gpointer
load_once (gpointer data)
{
    NmsNotmuchApi api;
    void *lib;
    const char *missing = NULL;

    /* RTLD_LOCAL: nothing else resolves against it; RTLD_NOW: a library that lacks a symbol
     * it needs fails here, with dlerror() naming it, rather than at the first call. */
    lib = dlopen (LIBNOTMUCH_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        load_failure = g_strdup_printf ("cannot load %s: %s", LIBNOTMUCH_SONAME, dlerror ());
        return NULL;
    }
#define NMS_NOTMUCH_SYM(name)                                                                    \
    if (missing == NULL && (api.name = (__typeof__ (api.name)) dlsym (lib, #name)) == NULL)     \
        missing = #name;
    NMS_NOTMUCH_FUNCTIONS (NMS_NOTMUCH_SYM)
#undef NMS_NOTMUCH_SYM
    if (missing != NULL) {
        load_failure = g_strdup_printf ("cannot load %s: it has no function %s (a libnotmuch "
                                        "older than the one nmsync was built for?)",
                                        LIBNOTMUCH_SONAME, missing);
        dlclose (lib);
        return NULL;
    }
    /* Never closed: notmuch's objects and its atexit handlers live as long as the process. */
    nms_notmuch_api = api;
    return NULL;
}

gboolean
nms_notmuch_load (GError **error)
{
    static GOnce once = G_ONCE_INIT;

    g_once (&once, load_once, NULL);
    if (load_failure != NULL) {
        g_set_error_literal (error, NMS_DB_ERROR, NMS_DB_ERROR_LOAD, load_failure);
        return FALSE;
    }
    return TRUE;
}
