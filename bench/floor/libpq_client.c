/* The least a process linking Debian's libpq can weigh: connect with the DSN given as the only
 * argument, run one query, say "ready" on stdout, then hold the connection open until killed,
 * as an exporter holds its connection between samples. bench/floor/run.sh reads its resident
 * memory from /proc while it waits. Nothing else is done, so every page is libpq's (and its
 * dependencies'), glibc's or the kernel's start-up cost. */
#include <libpq-fe.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DSN\n", argv[0]);
        return 2;
    }
    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "libpq_client: cannot connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    PGresult *result = PQexec(conn, "SELECT count(*) FROM pg_stat_activity");
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        fprintf(stderr, "libpq_client: query failed: %s", PQerrorMessage(conn));
        PQclear(result);
        PQfinish(conn);
        return 1;
    }
    printf("ready libpq=%d sessions=%s\n", PQlibVersion(), PQgetvalue(result, 0, 0));
    fflush(stdout);
    PQclear(result);
    /* SIGTERM's default action ends the process; the connection stays open until then. */
    for (;;) pause();
}
