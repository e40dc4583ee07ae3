/* SPDX-License-Identifier: GPL-3.0-or-later
 * What libetpan 1.9.4 leaves undone on the wire: verifying the server's certificate chain and
 * host name (it accepts anything, LIBRARIES.md 1.3.2), noticing EOF in the middle of a
 * literal (it spins forever, LIBRARIES.md 1.3.1), and refusing hostile literal sizes and
 * endless lines before it allocates them (frame.h, LIBRARIES.md 1.3.5). */
#include "nms-build.h"

#include "imap/imap-private.h"

#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "imap/frame.h"

/* ---- EOF guard ----------------------------------------------------------------------------
 * A low driver that wraps the real one (socket or TLS) and delegates every operation to it.
 * Two changes: every byte read goes through the framing guard (frame.h), which fails the read
 * (-1, so libetpan reports STREAM) on a hostile size; and a read of 0 bytes (EOF) becomes -1.
 * libetpan 1.9.4 loops while reading a literal until it has all bytes and treats only -1 as
 * an error, so a server that closes the connection mid-literal would make it spin at 100% CPU
 * (fixed upstream in 68de795). */

typedef struct {
    mailstream_low *inner;
    mailimap *imap;      /* whose stream this is: has it a body handler? */
    NmsImapFrame frame;  /* follows lines and literals: stops hostile sizes */
    GByteArray *capture; /* NULL, or the bytes read while a capture runs */
    gboolean nul_seen;   /* a NUL byte was read while capturing */
    gboolean overflow;   /* the capture missed bytes (CAPTURE_MAX) */
} Guard;

/* Beyond this a capture stops growing (a LIST reply of 100k folders is a few MB). */
#define CAPTURE_MAX (64u << 20)

static mailstream_low *
inner (mailstream_low *low)
{
    return ((Guard *) low->data)->inner;
}

/* Hands the bytes to the framing guard before libetpan sees them. */
static gboolean
frame_ok (Guard *g, const void *buf, ssize_t r)
{
    /* a body literal is safe only while a body handler streams it (LIBRARIES.md 1.3.5) */
    g->frame.bodies_streamed = g->imap->imap_msg_body_handler != NULL;
    return nms_imap_frame_feed (&g->frame, buf, (gsize) r);
}

static ssize_t
guard_read (mailstream_low *low, void *buf, size_t count)
{
    Guard *g = low->data;
    ssize_t r = -1;

    /* once the frame failed, the stream is out of step for good */
    if (g->frame.state != NMS_IMAP_FRAME_FAILED)
        r = mailstream_low_read (g->inner, buf, count);
    if (r > 0 && !frame_ok (g, buf, r))
        return -1;
    if (r > 0 && g->capture != NULL) {
        if (memchr (buf, 0, (size_t) r) != NULL)
            g->nul_seen = TRUE;
        if (g->capture->len + (size_t) r <= CAPTURE_MAX)
            g_byte_array_append (g->capture, buf, (guint) r);
        else
            g->overflow = TRUE;
    }
    return (r == 0 && count > 0) ? -1 : r;
}

static ssize_t
guard_write (mailstream_low *low, const void *buf, size_t count)
{
    return mailstream_low_write (inner (low), buf, count);
}

static int
guard_close (mailstream_low *low)
{
    return mailstream_low_close (inner (low));
}

static int
guard_get_fd (mailstream_low *low)
{
    return mailstream_low_get_fd (inner (low));
}

/* mailstream_low_free() calls the driver's free, which must release the low itself. */
static void
guard_free (mailstream_low *low)
{
    Guard *g = low->data;

    mailstream_low_free (g->inner);
    nms_imap_frame_clear (&g->frame);
    if (g->capture != NULL)
        g_byte_array_unref (g->capture);
    g_free (g);
    free (low);
}

static void
guard_cancel (mailstream_low *low)
{
    mailstream_low_cancel (inner (low));
}

static struct mailstream_cancel *
guard_get_cancel (mailstream_low *low)
{
    return mailstream_low_get_cancel (inner (low));
}

static carray *
guard_get_certificate_chain (mailstream_low *low)
{
    return mailstream_low_get_certificate_chain (inner (low));
}

static int
guard_setup_idle (mailstream_low *low)
{
    return mailstream_low_setup_idle (inner (low));
}

static int
guard_unsetup_idle (mailstream_low *low)
{
    return mailstream_low_unsetup_idle (inner (low));
}

static int
guard_interrupt_idle (mailstream_low *low)
{
    return mailstream_low_interrupt_idle (inner (low));
}

static mailstream_low_driver guard_driver = {
    .mailstream_read = guard_read,
    .mailstream_write = guard_write,
    .mailstream_close = guard_close,
    .mailstream_get_fd = guard_get_fd,
    .mailstream_free = guard_free,
    .mailstream_cancel = guard_cancel,
    .mailstream_get_cancel = guard_get_cancel,
    .mailstream_get_certificate_chain = guard_get_certificate_chain,
    .mailstream_setup_idle = guard_setup_idle,
    .mailstream_unsetup_idle = guard_unsetup_idle,
    .mailstream_interrupt_idle = guard_interrupt_idle,
};

void
nms_imap_install_eof_guard (mailimap *imap)
{
    mailstream_low *low;
    mailstream_low *guard;

    g_return_if_fail (imap->imap_stream != NULL);
    low = mailstream_get_low (imap->imap_stream);
    if (low == NULL || low->driver == &guard_driver)
        return;
    guard = mailstream_low_new (g_new0 (Guard, 1), &guard_driver);
    if (guard == NULL)
        g_error ("out of memory");
    ((Guard *) guard->data)->inner = low;
    ((Guard *) guard->data)->imap = imap;
    nms_imap_frame_init (&((Guard *) guard->data)->frame, 0);
    mailstream_low_set_timeout (guard, mailstream_low_get_timeout (low));
    mailstream_set_low (imap->imap_stream, guard);
    /* The stream's wire log (--trace) now hangs on the guard; the driver below would report
     * every byte a second time, and without the guard's privacy flag (the password). */
    mailstream_low_set_logger (low, NULL, NULL);
}

static Guard *
get_guard (mailimap *imap)
{
    mailstream_low *low = imap->imap_stream != NULL ? mailstream_get_low (imap->imap_stream) : NULL;

    return (low != NULL && low->driver == &guard_driver) ? low->data : NULL;
}

mailstream_low *
nms_imap_eof_guard_get_inner (mailimap *imap)
{
    Guard *g = get_guard (imap);

    return g != NULL ? g->inner : NULL;
}

void
nms_imap_eof_guard_set_inner (mailimap *imap, mailstream_low *inner)
{
    Guard *g = get_guard (imap);

    g_return_if_fail (g != NULL && inner != NULL);
    g->inner = inner;
}

const char *
nms_imap_guard_reason (mailimap *imap)
{
    Guard *g = get_guard (imap);

    return g != NULL ? nms_imap_frame_reason (&g->frame) : NULL;
}

const char *
nms_imap_guard_bye (mailimap *imap)
{
    Guard *g = get_guard (imap);

    return g != NULL ? nms_imap_frame_bye (&g->frame) : NULL;
}

void
nms_imap_capture_start (mailimap *imap)
{
    Guard *g = get_guard (imap);

    if (g == NULL)
        return;
    if (g->capture != NULL)
        g_byte_array_unref (g->capture);
    g->capture = g_byte_array_new ();
    g->nul_seen = FALSE;
    g->overflow = FALSE;
}

GByteArray *
nms_imap_capture_stop (mailimap *imap, gboolean *nul_seen_out, gboolean *complete_out)
{
    Guard *g = get_guard (imap);
    GByteArray *bytes;

    *nul_seen_out = FALSE;
    *complete_out = FALSE;
    if (g == NULL || g->capture == NULL)
        return NULL;
    bytes = g_steal_pointer (&g->capture);
    *nul_seen_out = g->nul_seen;
    *complete_out = !g->overflow;
    return bytes;
}

/* ---- certificate verification ------------------------------------------------------------ */

static void
free_crts (gnutls_x509_crt_t *crts, guint n)
{
    for (guint i = 0; i < n; i++)
        gnutls_x509_crt_deinit (crts[i]);
    g_free (crts);
}

/* Imports the DER certificates of @chain. Returns the number imported, or -1 with @error. */
static int
import_chain (carray *chain, const char *host, gnutls_x509_crt_t **crts_out, GError **error)
{
    guint n = carray_count (chain);
    gnutls_x509_crt_t *crts = g_new0 (gnutls_x509_crt_t, MAX (n, 1));

    for (guint i = 0; i < n; i++) {
        MMAPString *der = carray_get (chain, i);
        gnutls_datum_t datum;
        int r;

        if (der == NULL || der->len == 0 || der->len > G_MAXUINT) {
            free_crts (crts, i);
            g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                         "certificate for '%s' is not trusted (empty certificate in chain)", host);
            return -1;
        }
        datum.data = (unsigned char *) der->str;
        datum.size = der->len;
        r = gnutls_x509_crt_init (&crts[i]);
        if (r == GNUTLS_E_SUCCESS)
            r = gnutls_x509_crt_import (crts[i], &datum, GNUTLS_X509_FMT_DER);
        if (r != GNUTLS_E_SUCCESS) {
            free_crts (crts, i + 1);
            g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                         "certificate for '%s' is not trusted (cannot parse it: %s)", host,
                         gnutls_strerror (r));
            return -1;
        }
    }
    *crts_out = crts;
    return (int) n;
}

static gboolean
load_trust (gnutls_x509_trust_list_t tl, const char *host, const char *ca_file, GError **error)
{
    int r;

    if (ca_file != NULL) {
        r = gnutls_x509_trust_list_add_trust_file (tl, ca_file, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
        if (r <= 0) {
            g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                         "cannot verify the certificate for '%s': no CA certificate loaded from "
                         "'%s'%s%s", host, ca_file, r < 0 ? ": " : "",
                         r < 0 ? gnutls_strerror (r) : "");
            return FALSE;
        }
        return TRUE;
    }
    r = gnutls_x509_trust_list_add_system_trust (tl, 0, 0);
    if (r <= 0) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                     "cannot verify the certificate for '%s': the system CA store is empty or "
                     "unreadable%s%s", host, r < 0 ? ": " : "", r < 0 ? gnutls_strerror (r) : "");
        return FALSE;
    }
    return TRUE;
}

/* The most telling reason first: an untrusted chain makes the other checks meaningless. The
 * GnuTLS status bits become a sentence that says what to do: a user meets a self-signed
 * certificate on a home server far more often than a forged one. @leaf: the server's own
 * certificate; @ca_file: the account's, or NULL. */
static gboolean
status_to_error (unsigned int status, const char *host, gnutls_x509_crt_t leaf,
                 const char *ca_file, GError **error)
{
    const char *why;

    if (status == 0)
        return TRUE;
    if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA |
                  GNUTLS_CERT_INSECURE_ALGORITHM | GNUTLS_CERT_SIGNATURE_FAILURE |
                  GNUTLS_CERT_REVOKED | GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE)) {
        gboolean self_signed = gnutls_x509_crt_check_issuer (leaf, leaf) == 1;

        if (status & GNUTLS_CERT_REVOKED)
            why = "revoked";
        else if (status & (GNUTLS_CERT_INSECURE_ALGORITHM | GNUTLS_CERT_SIGNATURE_FAILURE))
            why = "signed with an insecure algorithm or a bad signature";
        else
            why = self_signed ? "self-signed" : "issued by an unknown authority";
        if (ca_file != NULL)
            g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                         "the server's certificate for '%s' is not trusted (%s): ca-file '%s' "
                         "holds neither it nor the authority that issued it", host, why,
                         ca_file);
        else
            g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                         "the server's certificate for '%s' is not trusted (%s); if you trust "
                         "it, set ca-file = FILE for this account (FILE: that certificate, or "
                         "its authority's, in PEM)", host, why);
        return FALSE;
    }
    if (status & GNUTLS_CERT_EXPIRED)
        why = "has expired";
    else if (status & GNUTLS_CERT_NOT_ACTIVATED)
        why = "is not yet valid";
    else if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                     "certificate does not match host name '%s'", host);
        return FALSE;
    } else
        why = "is not trusted";
    g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS, "certificate for '%s' %s (status 0x%x)",
                 host, why, status);
    return FALSE;
}

/* Runs before LOGIN, so a password never goes to an unverified server. With @ca_file set, only
 * that file is trusted (a private CA or a pinned self-signed certificate), not the system
 * store: the user said whom to trust. */
gboolean
nms_imap_tls_verify (mailimap *imap, const char *host, const char *ca_file, GError **error)
{
    carray *chain = mailstream_get_certificate_chain (imap->imap_stream);
    gnutls_x509_trust_list_t tl = NULL;
    gnutls_x509_crt_t *crts = NULL;
    gnutls_typed_vdata_st vdata = { GNUTLS_DT_DNS_HOSTNAME, (unsigned char *) host, 0 };
    unsigned int status = 0;
    gboolean ok = FALSE;
    int n;
    int r;

    /* 1.9.4 may return an uninitialised pointer when the peer sent nothing (GnuTLS branch);
     * the NORMAL priority has no anonymous suites, so a successful handshake always carries a
     * certificate, and NULL or an empty array is all we can still check. */
    if (chain == NULL || carray_count (chain) == 0) {
        if (chain != NULL)
            mailstream_certificate_chain_free (chain);
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                     "server '%s' sent no certificate", host);
        return FALSE;
    }
    n = import_chain (chain, host, &crts, error);
    mailstream_certificate_chain_free (chain);
    if (n < 0)
        return FALSE;
    r = gnutls_x509_trust_list_init (&tl, 0);
    if (r != GNUTLS_E_SUCCESS) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                     "cannot verify the certificate for '%s': %s", host, gnutls_strerror (r));
        goto out;
    }
    if (!load_trust (tl, host, ca_file, error))
        goto out;
    r = gnutls_x509_trust_list_verify_crt2 (tl, crts, (unsigned) n, &vdata, 1, 0, &status, NULL);
    if (r != GNUTLS_E_SUCCESS) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                     "cannot verify the certificate for '%s': %s", host, gnutls_strerror (r));
        goto out;
    }
    ok = status_to_error (status, host, crts[0], ca_file, error);
out:
    if (tl != NULL)
        gnutls_x509_trust_list_deinit (tl, 1);
    free_crts (crts, (guint) MAX (n, 0));
    return ok;
}
