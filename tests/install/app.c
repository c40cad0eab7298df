/*
 * app.c -- a program written as a user of an installed OmenDB would: it
 * sees only <omendb.h> and is built with `pkg-config --cflags --libs
 * omendb` (tests/check_install.sh).  Opens a database in argv[1], writes,
 * reads back, and prints "ok <version>".
 */
#include <omendb.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: app DIR\n");
        return 2;
    }
    omen_options o;
    omen_options_init(&o);
    omen_db *db;
    int rc = omen_open(argv[1], &o, &db);
    if (rc != OMEN_OK) {
        fprintf(stderr, "open: %s (%s)\n", omen_strerror(rc), omen_last_error());
        return 1;
    }
    rc = omen_put(db, "key", 3, "value", 5, OMEN_SYNC_FULL);
    void *v = NULL;
    size_t vl = 0;
    if (rc == OMEN_OK) rc = omen_get(db, NULL, "key", 3, &v, &vl);
    int same = rc == OMEN_OK && vl == 5 && memcmp(v, "value", 5) == 0;
    omen_free(v);
    int crc = omen_close(db);
    if (!same || crc != OMEN_OK) {
        fprintf(stderr, "put/get/close: %s (%s)\n", omen_strerror(rc ? rc : crc), omen_last_error());
        return 1;
    }
    printf("ok %s\n", OMEN_VERSION_STRING);
    return 0;
}
