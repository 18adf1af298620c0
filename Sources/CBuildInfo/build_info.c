#include "CBuildInfo.h"
/* `make build` writes generated/revision.h with the git revision; a plain `swift build`
   has no such file and reports "unknown". */
#if __has_include("generated/revision.h")
#include "generated/revision.h"
#endif
#ifndef MITRA_GIT_REVISION
#define MITRA_GIT_REVISION "unknown"
#endif
const char *mitra_build_revision(void) { return MITRA_GIT_REVISION; }
