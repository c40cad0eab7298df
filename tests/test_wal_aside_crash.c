/*
 * test_wal_aside_crash.c -- a crash inside an open that recovers around a
 * damaged WAL (SKIP / POINT_IN_TIME) must not lose the writes recovered
 * from it.
 *
 * A database whose only WAL holds three synced records, the middle one
 * damaged.  For N = 1, 2, ... the Nth mutating file operation of the
 * recovering open fails (the fault env), then power is lost (unsynced data
 * dropped) and the database is opened again with the same mode.  Every
 * time, the intact records before the damage (and, for SKIP, after it) must
 * be readable, and the damaged log must still exist (as the log itself or
 * as NNNNNN.wal.damaged): recovery never deletes data.
 */
#include "testutil.h"
#include "support/fio_fault.h"

#define NREC 3

static void build(const char *base, char *walname, size_t wn)
{
    omen_db *db = NULL;
    TU_OK(omen_open(base, NULL, &db));
    for (int i = 0; i < NREC; i++) {
        char k[16], v[32];
        int kl = snprintf(k, sizeof k, "wk%d", i);
        int vl = snprintf(v, sizeof v, "value-%d-xyz", i);
        TU_OK(omen_put(db, k, (size_t)kl, v, (size_t)vl, OMEN_SYNC_FULL));
    }
    TU_OK(omen_close(db));
    char **names;
    size_t nw = tu_list(base, ".wal", &names);
    assert_int_equal(nw, 1);
    snprintf(walname, wn, "%s", names[0]);
    tu_list_free(names, nw);
    char walp[PATH_MAX];
    tu_join(walp, sizeof walp, base, walname);
    unsigned char *img;
    size_t len;
    assert_int_equal(tu_read_file(walp, &img, &len), 0);
    /* Flip a payload byte of the middle record (docs/format.md "WAL file"). */
    size_t off = 16;
    off += 9 + (size_t)(img[off + 4] | img[off + 5] << 8);
    img[off + 12] ^= 0x40;
    assert_int_equal(tu_write_file(walp, img, len), 0);
    free(img);
}

static int has(omen_db *db, int i)
{
    char k[16], v[32], *got = NULL;
    size_t gl = 0;
    int kl = snprintf(k, sizeof k, "wk%d", i);
    int vl = snprintf(v, sizeof v, "value-%d-xyz", i);
    int rc = omen_get(db, NULL, k, (size_t)kl, (void **)&got, &gl);
    int ok = rc == OMEN_OK && gl == (size_t)vl && memcmp(got, v, gl) == 0;
    omen_free(got);
    return ok;
}

static void sweep(int mode)
{
    char base[PATH_MAX], work[PATH_MAX], walname[64], walp[PATH_MAX], aside[PATH_MAX + 16];
    tu_path(base, sizeof base, "asidecrash");
    tu_path(work, sizeof work, "asidecrash-work");
    build(base, walname, sizeof walname);
    tu_join(walp, sizeof walp, work, walname);
    snprintf(aside, sizeof aside, "%s.damaged", walp);
    omen_options o;
    omen_options_init(&o);
    o.create_if_missing = 0;
    o.wal_recovery = mode;
    int done = 0;
    for (long n = 1; !done && n < 200; n++) {
        assert_int_equal(tu_copy_dir(base, work), 0);
        fio_fault_install();
        fio_fault_fail_nth(FIO_FAULT_MUTATING, n, FIO_FAULT_STICKY);
        omen_db *db = NULL;
        int rc = omen_open(work, &o, &db);
        if (db) omen_close(db); /* may fail: the disk is failing */
        done = fio_fault_failures() == 0;
        (void)rc;
        assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
        fio_fault_fail_nth(0, 0, 0);
        fio_fault_remove();
        assert_true(access(walp, F_OK) == 0 || access(aside, F_OK) == 0);
        db = NULL;
        rc = omen_open(work, &o, &db);
        if (rc != OMEN_OK) tu_fail("mode %d, fault %ld: reopen failed: %s", mode, n, omen_last_error());
        if (!has(db, 0))
            tu_fail("mode %d, fault %ld: the record before the damage was lost", mode, n);
        if (mode == OMEN_WAL_RECOVER_SKIP && !has(db, 2))
            tu_fail("mode %d, fault %ld: the intact record after the damage was lost", mode, n);
        TU_OK(omen_close(db));
        assert_int_equal(access(aside, F_OK), 0);
    }
    assert_true(done);
    tu_rmrf(work);
    tu_rmrf(base);
}

static void test_skip_open_crash(void **state)
{
    (void)state;
    sweep(OMEN_WAL_RECOVER_SKIP);
}

static void test_point_in_time_open_crash(void **state)
{
    (void)state;
    sweep(OMEN_WAL_RECOVER_POINT_IN_TIME);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_skip_open_crash),
        cmocka_unit_test(test_point_in_time_open_crash),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
