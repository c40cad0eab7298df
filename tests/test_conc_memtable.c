/*
 * test_conc_memtable.c -- readers racing the memtable's one writer: forward
 * and backward iteration, seeks and gets from two threads while inserts
 * split leaves and inner nodes under them, on a small table and on a
 * filtered (database-sized) one, and with keys under a long shared head (the
 * tree's nodes then compare key bytes after a per-node skip, which splits
 * re-derive).  Every entry's value is its sequence, so a
 * reader that sees a torn or misplaced entry notices.  Runs under TSan in
 * `make test`.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/memtable.h"

static void k_of(unsigned i, char *out, int long_head)
{
    snprintf(out, 40, "%sk%06u", long_head ? "tenant-0042:user:000000" : "", i);
}

typedef struct reader_arg {
    mt *m;
    volatile int *stop;
    int long_head;
    unsigned errors;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    unsigned r = 1;
    while (!__atomic_load_n(a->stop, __ATOMIC_ACQUIRE)) {
        mt_iter it;
        mt_iter_init(&it, a->m);
        const mt_node *prev = NULL;
        for (mt_iter_seek_first(&it); mt_iter_valid(&it); mt_iter_next(&it)) {
            if (prev && ikey_cmp(mt_node_key(prev), prev->klen, prev->seq, mt_node_key(it.node),
                                 it.node->klen, it.node->seq) >= 0)
                a->errors++;
            uint64_t sv;
            memcpy(&sv, mt_node_val(it.node), sizeof sv);
            if (sv != it.node->seq) a->errors++;
            prev = it.node;
        }
        /* backwards, and point reads, while the tree splits under them */
        prev = NULL;
        for (mt_iter_seek_last(&it); mt_iter_valid(&it); mt_iter_prev(&it)) {
            if (prev && ikey_cmp(mt_node_key(prev), prev->klen, prev->seq, mt_node_key(it.node),
                                 it.node->klen, it.node->seq) <= 0)
                a->errors++;
            prev = it.node;
        }
        for (int i = 0; i < 200; i++) {
            char k[40];
            r = r * 1103515245u + 12345u;
            k_of((r >> 8) % 1000, k, a->long_head);
            uint64_t seq;
            const void *v;
            size_t vl;
            if (mt_get(a->m, k, strlen(k), MT_MAX_SEQ, &seq, NULL, &v, &vl)) {
                uint64_t sv;
                memcpy(&sv, v, sizeof sv);
                if (vl != sizeof sv || sv != seq) a->errors++;
            }
            mt_iter_seek(&it, k, strlen(k), MT_MAX_SEQ);
            if (mt_iter_valid(&it) && ukey_cmp(mt_node_key(it.node), it.node->klen, k, strlen(k)) < 0)
                a->errors++;
        }
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    for (int pass = 0; pass < 3; pass++) {
        int big = pass > 0, long_head = pass == 2;
        mt *m;
        assert_int_equal(mt_new(big ? 1 << 20 : 1 << 14, &m), OMEN_OK);
        volatile int stop = 0;
        reader_arg a[2] = {{m, &stop, long_head, 0}, {m, &stop, long_head, 0}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, reader, &a[i]);
        char k[40];
        for (uint64_t s = 1; s <= 20000; s++) {
            k_of((unsigned)((s * 2654435761u) % 1000), k, long_head);
            assert_int_equal(mt_add(m, s, MT_TYPE_PUT, k, strlen(k), &s, sizeof s), OMEN_OK);
        }
        __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
        for (int i = 0; i < 2; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(a[i].errors, 0);
        }
        mt_unref(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
