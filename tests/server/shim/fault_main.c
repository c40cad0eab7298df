/*
 * fault_main.c -- test-only wrapper of omendb-server that installs the
 * engine's fault-injecting file env before the real main runs (server.c
 * is compiled with -Dmain=omen_server_main for this binary only).
 *
 * OMEN_FAULT_SYNC_NTH=n makes the n-th fsync (and every later one) fail,
 * a disk that died: the server must stop acknowledging writes.
 * OMEN_FAULT_WRITE_NTH=n does the same to file writes (the log's first). 
 */
#include <stdlib.h>

#include "support/fio_fault.h"

int omen_server_main(int argc, char **argv);

int main(int argc, char **argv)
{
    const char *n = getenv("OMEN_FAULT_SYNC_NTH");
    if (n) {
        fio_fault_install();
        fio_fault_fail_nth(FIO_FAULT_SYNC, atol(n), FIO_FAULT_STICKY);
    }
    const char *w = getenv("OMEN_FAULT_WRITE_NTH");
    if (w) {
        fio_fault_install();
        fio_fault_fail_nth(FIO_FAULT_WRITE, atol(w), FIO_FAULT_STICKY);
    }
    return omen_server_main(argc, argv);
}
