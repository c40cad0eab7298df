/*
 * test_sync.c -- omen_sync: the explicit "make the log durable now" call.
 *
 * Relaxed writes followed by omen_sync must survive a simulated power loss
 * (fio_fault_power_loss drops everything not synced); without the sync the
 * same writes may be lost (checked to make sure the power-loss model bites
 * here, so the first check cannot pass by accident).  A failed sync turns
 * the handle read-only.  Bad handles get errors.
 */
#include "support/fio_fault.h"
#include "testutil.h"

static char dir[600];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(dir, sizeof dir, "sync");
}

static int teardown(void **state)
{
    (void)state;
    fio_fault_remove();
    tu_rmrf(dir);
    return 0;
}

static omen_db *open_db(void)
{
    omen_db *db = NULL;
    omen_options o;
    omen_options_init(&o);
    o.sync = OMEN_SYNC_RELAXED;
    assert_int_equal(omen_open(dir, &o, &db), OMEN_OK);
    return db;
}

static int count_keys(omen_db *db)
{
    int n = 0;
    char k[32];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "key%04d", i);
        size_t vl = 0;
        int rc = omen_get_into(db, NULL, k, strlen(k), NULL, 0, &vl);
        if (rc == OMEN_OK) n++;
        else assert_int_equal(rc, OMEN_NOTFOUND);
    }
    return n;
}

/* 200 relaxed puts, optionally omen_sync, power loss, reopen: keys left. */
static int survivors(int do_sync)
{
    tu_rmrf(dir);
    fio_fault_install();
    omen_db *db = open_db();
    char k[32];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "key%04d", i);
        assert_int_equal(omen_put(db, k, strlen(k), "value", 5, OMEN_SYNC_RELAXED), OMEN_OK);
    }
    if (do_sync) assert_int_equal(omen_sync(db), OMEN_OK);
    /* The machine dies: nothing more reaches the disk, unsynced data goes. */
    fio_fault_fail_nth(FIO_FAULT_MUTATING, 1, FIO_FAULT_STICKY);
    omen_close(db);
    fio_fault_power_loss(FIO_POWER_DROP);
    fio_fault_fail_nth(0, 0, 0);
    fio_fault_remove();
    db = open_db();
    int n = count_keys(db);
    assert_int_equal(omen_close(db), OMEN_OK);
    return n;
}

static void test_sync_makes_relaxed_writes_durable(void **state)
{
    (void)state;
    assert_int_equal(survivors(1), 200);
    /* The model drops unsynced writes, so the check above means something. */
    assert_true(survivors(0) < 200);
}

static void test_sync_failure_turns_read_only(void **state)
{
    (void)state;
    tu_rmrf(dir);
    fio_fault_install();
    omen_db *db = open_db();
    assert_int_equal(omen_put(db, "a", 1, "1", 1, OMEN_SYNC_RELAXED), OMEN_OK);
    fio_fault_fail_nth(FIO_FAULT_SYNC, 1, FIO_FAULT_STICKY);
    assert_int_equal(omen_sync(db), OMEN_IO);
    omen_stats st;
    assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
    assert_int_equal(st.read_only, 1);
    assert_int_equal(omen_put(db, "b", 1, "2", 1, OMEN_SYNC_RELAXED), OMEN_READONLY);
    assert_int_equal(omen_sync(db), OMEN_READONLY);
    size_t vl = 0;
    assert_int_equal(omen_get_into(db, NULL, "a", 1, NULL, 0, &vl), OMEN_OK);
    fio_fault_fail_nth(0, 0, 0);
    omen_close(db);
    fio_fault_remove();
}

static void test_sync_bad_handle(void **state)
{
    (void)state;
    assert_int_equal(omen_sync(NULL), OMEN_INVALID);
}

static void test_sync_idle_and_repeated(void **state)
{
    (void)state;
    tu_rmrf(dir);
    omen_db *db = open_db();
    assert_int_equal(omen_sync(db), OMEN_OK); /* nothing written yet */
    assert_int_equal(omen_put(db, "k", 1, "v", 1, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(omen_sync(db), OMEN_OK);
    assert_int_equal(omen_sync(db), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_makes_relaxed_writes_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_failure_turns_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_bad_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_idle_and_repeated, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
