#ifndef MITRA_CBUILDINFO_H
#define MITRA_CBUILDINFO_H
/* The git revision is passed by the Makefile as -Xcc -DMITRA_GIT_REVISION=\"...\";
   a plain `swift build` reports "unknown". */
const char *mitra_build_revision(void);
#endif
