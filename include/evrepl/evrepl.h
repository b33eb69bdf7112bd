// evrepl umbrella header: the whole public C API of libevrepl.
#ifndef EVREPL_EVREPL_H
#define EVREPL_EVREPL_H

#include "evrepl/client.h"
#include "evrepl/status.h"
#include "evrepl/types.h"

#endif // EVREPL_EVREPL_H
