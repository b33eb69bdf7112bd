// NNG helpers shared by the server transport and the client library: the one translator of
// NNG errors into evrepl codes, and TLS configuration from PEM files.
//
// Thread safety: pure / per call.
#ifndef EVREPL_NNGX_NNGX_H
#define EVREPL_NNGX_NNGX_H

#include <stdbool.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "evrepl/status.h"

// Maps an NNG error number to an evrepl code: timeouts to DEADLINE_EXCEEDED, refused, closed,
// reset and unreachable peers and taken addresses to UNAVAILABLE, bad URLs and options to
// INVALID_ARGUMENT, permissions to PERMISSION_DENIED, anything else to INTERNAL.
evrepl_code evri_code_from_nng(int rv);

// Builds a TLS configuration (mode client or server) from PEM files: own certificate and key
// (both or neither), and the CA that the peer must chain to (required: peers are always
// verified). server_name (client mode) is the name to check the server's certificate against.
// Writes *out only on success; messages name the files, never their contents.
EVREPL_NODISCARD evrepl_code evri_tls_config_create(nng_tls_config **out, nng_tls_mode mode,
                                                    const char *cert_file, const char *key_file,
                                                    const char *ca_file, const char *server_name,
                                                    evrepl_status *st);

// True for URLs whose scheme is tls+tcp:// (and its tls+tcp4/6 variants).
bool evri_url_is_tls(const char *url);

#endif // EVREPL_NNGX_NNGX_H
