#ifndef MITRA_CBUILDINFO_H
#define MITRA_CBUILDINFO_H
/* The git revision the binary was built from ("unknown" outside `make build`). */
const char *mitra_build_revision(void);
#endif
