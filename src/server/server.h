// evrepld assembled: logger, backend instances, receipt key, rpc and transport, from a
// finished evri_config.
//
// Thread safety: create, drain and destroy from one controlling thread.
#ifndef EVREPL_SERVER_SERVER_H
#define EVREPL_SERVER_SERVER_H

#include <stdio.h>

#include "evrepl/status.h"
#include "server/config.h"

typedef struct evri_server evri_server;

// Starts a server: loads keys, creates the backend (UNAVAILABLE when it cannot reach its
// primary), listens on every URL (UNAVAILABLE when one is taken). Logs go to log_sink.
// Writes *out only on success.
EVREPL_NODISCARD evrepl_code evri_server_create(evri_server **out, const evri_config *cfg,
                                                FILE *log_sink, evrepl_status *st);

// Stops taking calls and answers those already taken (waiting at most timeout_ms). Returns
// the number of calls still unanswered when it gave up.
unsigned evri_server_drain(evri_server *srv, uint32_t timeout_ms);

// Stops and frees. Accepts NULL.
void evri_server_destroy(evri_server *srv);

#endif // EVREPL_SERVER_SERVER_H
