#include "adapters/postgres/conninfo.h"

#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

bool
evri_pg_conninfo_valid(const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    PQfreemem(err); // libpq's message may quote the conninfo: never shown
    if (opts == NULL) {
        return false;
    }
    PQconninfoFree(opts);
    return true;
}

void
evri_pg_conninfo_redact(const char *conninfo, char *out, size_t out_size)
{
    char *err = NULL;
    size_t o = 0;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    PQfreemem(err);
    if (out_size == 0) {
        PQconninfoFree(opts);
        return;
    }
    out[0] = '\0';
    if (opts == NULL) {
        snprintf(out, out_size, "<not a valid conninfo>");
        return;
    }
    for (PQconninfoOption *o_ = opts; o_->keyword != NULL; o_++) {
        if (o_->val == NULL || o_->val[0] == '\0') {
            continue;
        }
        // libpq marks secret options with dispchar '*' (password, and sslpassword).
        bool secret = o_->dispchar != NULL && strchr(o_->dispchar, '*') != NULL;
        int n = snprintf(out + o, out_size - o, "%s%s=%s", o > 0 ? " " : "", o_->keyword,
                         secret ? "*****" : o_->val);
        if (n < 0 || (size_t)n >= out_size - o) {
            break;
        }
        o += (size_t)n;
    }
    PQconninfoFree(opts);
}
