// Conninfo helpers that need libpq's parser but no connection. Conninfos are secrets (they
// may hold passwords): nothing here ever copies one into a message.
//
// Thread safety: pure.
#ifndef EVREPL_ADAPTERS_POSTGRES_CONNINFO_H
#define EVREPL_ADAPTERS_POSTGRES_CONNINFO_H

#include <stdbool.h>
#include <stddef.h>

// True when libpq can parse conninfo (key=value list or postgresql:// URI).
bool evri_pg_conninfo_valid(const char *conninfo);

// Writes a printable key=value form of conninfo with the password masked ("password=*****").
// Writes "<not a valid conninfo>" when libpq cannot parse it.
void evri_pg_conninfo_redact(const char *conninfo, char *out, size_t out_size);

#endif // EVREPL_ADAPTERS_POSTGRES_CONNINFO_H
