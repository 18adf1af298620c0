// The zlib shim is header-only; SwiftPM needs one source file per C target.
#include "CZlib.h"
