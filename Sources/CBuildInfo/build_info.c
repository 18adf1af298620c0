#include "CBuildInfo.h"
#ifndef MITRA_GIT_REVISION
#define MITRA_GIT_REVISION "unknown"
#endif
const char *mitra_build_revision(void) { return MITRA_GIT_REVISION; }
