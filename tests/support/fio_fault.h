/*
 * fio_fault.h -- fault-injecting file env for tests (crash and error paths).
 * Test support code: it is linked into the testing library only
 * (libomendb-testing.a, docs/testing.md), never into the shipped one.
 *
 * Install it with fio_fault_install(); every fio call then goes through it.
 * It does two things:
 *
 * 1. Failure of the Nth operation.  Operations are counted by kind
 *    (FIO_FAULT_*).  fio_fault_fail_nth(kinds, n, flags) arms a counter:
 *    the nth operation (1-based) whose kind is in `kinds` fails with OMEN_IO
 *    ("injected fault"), and with FIO_FAULT_STICKY every later one of those
 *    kinds fails too (a dead disk).  With FIO_FAULT_PARTIAL an injected
 *    write failure first writes the first half of its bytes (ENOSPC mid-
 *    write).  An injected failure has no other effect: a failed fsync leaves
 *    the data unsynced, a failed rename renames nothing.  Allocation failures
 *    are separate: util_mem_fail_after() in util/mem.h.
 *    The crash-test loop: for N = 1, 2, ...: arm (kinds, N, STICKY), run the
 *    workload, stop at its first error, close, fio_fault_power_loss(),
 *    fio_fault_fail_nth(0, 0, 0), reopen, check invariants; finish when
 *    fio_fault_failures() == 0 after the workload (N exceeded its ops).
 *
 * 2. Simulated power loss, fio_fault_power_loss(mode).  Model (what it
 *    guarantees to keep and what it discards):
 *    - File data: the env remembers, per file (by inode), the size at its
 *      last successful fio_sync ("synced length"; fdatasync semantics: all
 *      bytes written before the sync are durable).  Files that existed when
 *      the env was installed count as fully synced.  Power loss cuts every
 *      tracked file back to its synced length (FIO_POWER_DROP), or keeps a
 *      random prefix of the unsynced tail (FIO_POWER_TEAR), or keeps such a
 *      prefix with random bytes of it overwritten by garbage
 *      (FIO_POWER_SCRAMBLE: models pages of the tail written out of order).
 *      The env also remembers the lowest offset written since the last
 *      sync: bytes written below the synced length are lost too (the
 *      unsynced range then starts there), and lost bytes below the synced
 *      length read back as zeros.  The model thus assumes that the engine
 *      writes in place only into space it reserved with fio_allocate (the
 *      WAL's preallocation), which reads as zeros until written; files are
 *      otherwise append-only.  fio_allocate counts as a write for failure
 *      injection.  A truncate is durable immediately.
 *    - Directory entries: a file created, a rename, or an unlink through
 *      the env is pending until a later successful fio_sync_dir of that
 *      file's directory (paths are compared after lexical normalisation:
 *      "a//b/./c/" == "a/b/c"; use the same spelling of a directory for
 *      creation and sync).  Power loss undoes pending operations newest
 *      first: created files vanish, renames move back (restoring a replaced
 *      target), unlinked files reappear with their content.  (Undo data for
 *      replaced/unlinked files is kept as hard links named ".fiofault.*" in
 *      the same directory; fio_list_dir hides them.)
 *    - Directories (fio_mkdir, fio_rmdir) are durable immediately; fio_rmdir
 *      commits the pending operations inside the directory.
 *    - Afterwards every remaining file counts as fully synced and nothing is
 *      pending.  Open handles are not closed: close them before the power
 *      loss (as the crash loop above does), since their tracked append
 *      position is stale afterwards.
 *    The random choices come from fio_fault_seed() (deterministic).
 *
 * Thread-safe: all bookkeeping is under one mutex; the system calls run
 * outside it, ordered so that concurrent appends are never counted as
 * synced (sizes are taken before fdatasync).  mmap is passed through.
 */
#ifndef OMEN_FIO_FAULT_H
#define OMEN_FIO_FAULT_H

#include <stdint.h>

#include "storage/fio.h"

/* Operation kinds (bit mask). */
enum {
    FIO_FAULT_OPEN = 1,     /* fio_open, fio_lock                         */
    FIO_FAULT_READ = 2,     /* fio_pread                                  */
    FIO_FAULT_WRITE = 4,    /* fio_pwrite, fio_append(v), fio_truncate, fio_allocate */
    FIO_FAULT_SYNC = 8,     /* fio_sync, fio_sync_dir                     */
    FIO_FAULT_RENAME = 16,  /* fio_rename                                 */
    FIO_FAULT_UNLINK = 32,  /* fio_unlink, fio_rmdir                      */
    FIO_FAULT_MKDIR = 64,   /* fio_mkdir                                  */
    /* Everything that changes the disk (the usual crash-test mask). */
    FIO_FAULT_MUTATING = FIO_FAULT_OPEN | FIO_FAULT_WRITE | FIO_FAULT_SYNC | FIO_FAULT_RENAME |
                         FIO_FAULT_UNLINK | FIO_FAULT_MKDIR,
    FIO_FAULT_ALL = FIO_FAULT_MUTATING | FIO_FAULT_READ,
};

/* fio_fault_fail_nth flags. */
enum { FIO_FAULT_STICKY = 1, FIO_FAULT_PARTIAL = 2 };

/* fio_fault_power_loss modes. */
enum { FIO_POWER_DROP = 0, FIO_POWER_TEAR = 1, FIO_POWER_SCRAMBLE = 2 };

/* Install the env (fio_set_env) with fresh state: nothing armed, counters
 * zero, every existing file considered durable.  Calling it again resets
 * the state (pending directory operations count as committed). */
void fio_fault_install(void);

/* Restore the posix env and drop all tracking state (pending directory
 * operations are committed as if synced; backup links are removed). */
void fio_fault_remove(void);

/* Arm: the nth (1-based) operation of a kind in `kinds`, counted from now,
 * fails; flags FIO_FAULT_STICKY / FIO_FAULT_PARTIAL.  n <= 0 or kinds == 0
 * disarms (operations are then counted over all kinds).  Resets the
 * operation and failure counters. */
void fio_fault_fail_nth(int kinds, long n, int flags);

/* Operations of the armed kinds (all kinds when disarmed) since the last
 * fio_fault_fail_nth / install. */
long fio_fault_ops(void);

/* Number of injected failures since the last fio_fault_fail_nth / install. */
long fio_fault_failures(void);

/* Seed for the TEAR/SCRAMBLE choices. */
void fio_fault_seed(uint64_t seed);

/* Simulate power loss now (see the model above).  Uses the OS directly
 * (never fails by injection).  Returns OMEN_OK or OMEN_IO if the OS refused
 * a rollback step. */
int fio_fault_power_loss(int mode);

/* Bytes of `path` that are currently synced (durable) in the model, or -1 if
 * the file is unknown / absent.  For tests of the model itself. */
int64_t fio_fault_synced_len(const char *path);

#endif
