// The server's observer of its backend (ports/replicator.h): each replica report updates the
// metrics, and a change of a replica's state is logged as one line (with the request id of the
// call that saw it, which the logger adds on that thread).
//
// Thread safety: the callback may run on several workers at once; the metrics serialise the
// state of each replica, so every change is logged exactly once.
#ifndef EVREPL_SERVER_OBSERVER_H
#define EVREPL_SERVER_OBSERVER_H

#include "common/log.h"
#include "common/metrics.h"
#include "ports/replicator.h"

typedef struct evri_observer {
    evri_metrics *metrics; // holds each replica's last state
    evri_log *log;
} evri_observer;

// The port-side handle of o (borrowed: o must outlive the backend).
evrepl_replicator_observer evri_observer_port(evri_observer *o);

#endif // EVREPL_SERVER_OBSERVER_H
