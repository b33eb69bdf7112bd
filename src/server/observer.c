#include "server/observer.h"

#include "common/clock.h"

// The message of a change from prev to now; the level says how urgent it is.
static const char *
change_message(evri_replica_state prev, evri_replica_state now, evri_log_level *level)
{
    switch (now) {
    case EVRI_REPLICA_STATE_VALID:
        *level = EVRI_LOG_INFO;
        return prev == EVRI_REPLICA_STATE_UNKNOWN || prev == EVRI_REPLICA_STATE_UNREACHABLE
                   ? "replica reachable"
                   : "replica recovered";
    case EVRI_REPLICA_STATE_LAGGING:
        *level = EVRI_LOG_WARN;
        return "replica lagging";
    case EVRI_REPLICA_STATE_DIVERGED:
        *level = EVRI_LOG_ERROR;
        return "replica diverged";
    case EVRI_REPLICA_STATE_UNREACHABLE:
        *level = EVRI_LOG_WARN;
        return "replica unreachable";
    case EVRI_REPLICA_STATE_INVALID:
    case EVRI_REPLICA_STATE_UNKNOWN:
        break;
    }
    *level = EVRI_LOG_ERROR;
    return "replica invalid";
}

static void
observer_replica_report(void *ctx, const evrepl_replica_report *r)
{
    evri_observer *o = ctx;
    evri_metrics_replica sample = {
        .state = r->state,
        .reachable = r->reachable,
        .head_sequence = r->head_sequence,
        .lag_events = r->lag_events,
        .diverged_at_sequence = r->diverged_at_sequence,
        .events_checked = r->events_checked,
        .at = evri_wallclock(),
    };
    evri_replica_state prev = evri_metrics_replica_update(o->metrics, r->index, &sample);
    if (prev == r->state) {
        return;
    }
    evri_log_level level;
    const char *msg = change_message(prev, r->state, &level);
    evri_log_field f[5];
    size_t n = 0;
    f[n++] = evri_lf_str("replica", r->replica_id);
    f[n++] = evri_lf_str("state", evri_replica_state_name(r->state));
    f[n++] = evri_lf_str("previous", evri_replica_state_name(prev));
    if (r->lag_events > 0) {
        f[n++] = evri_lf_uint("lag_events", r->lag_events);
    }
    if (r->diverged_at_sequence > 0) {
        f[n++] = evri_lf_uint("diverged_at_sequence", r->diverged_at_sequence);
    }
    evri_log_fields(o->log, level, msg, f, n);
}

evrepl_replicator_observer
evri_observer_port(evri_observer *o)
{
    return (evrepl_replicator_observer){.replica_report = observer_replica_report, .ctx = o};
}
