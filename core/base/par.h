/*
 * par.h - the kernels' thread pool: one parallel region at a time, the
 * calling thread taking part.
 *
 *     static void part(void *ctx, int i, int n, int tid) { ... share i of n ... }
 *     cq_par_set_threads(2);              // between runs, as the executor does
 *     cq_par_run(8, part, &ctx);          // returns when every share is done
 *
 * Shares are claimed one at a time by whichever thread is free, thread t
 * taking shares t, t + threads, ... first where there are at most 31 (so
 * share i of consecutive regions runs on one core while every thread is
 * free), so a thread the host has descheduled holds no work but the share
 * it is in; tid (0 .. threads - 1, 0 the caller) says which thread runs a
 * share, for per-thread scratch.
 * Workers are created on first use and kept; after a region they spin for a
 * short while (the next convolution usually follows within microseconds),
 * then sleep on a condition variable. A region started from inside a region
 * (or with n = 1, or while another host thread's region has the pool) runs
 * its shares one after another on the calling thread.
 * Shares must not fail: each records its own errors in ctx.
 */
#ifndef CQ_PAR_H
#define CQ_PAR_H

#include <pthread.h>

#define CQ_PAR_MAX 64

typedef void (*cq_par_fn)(void *ctx, int i, int n, int tid);

/* Threads the kernels split their work over (1 .. CQ_PAR_MAX; default 1),
 * for the whole process. Call it between runs: a kernel sizes its scratch
 * by the count when planned and when run. */
void cq_par_set_threads(int n);
/* The calling thread's own count (n >= 1), or back to the process's (n <= 0);
 * returns the previous own count (0: none). cq_exec_run sets it for a run. */
int cq_par_set_local_threads(int n);
/* The calling thread's count: its own if set, else the process's. */
int cq_par_threads(void);
/* fn(ctx, i, n, tid) for every i in [0, n) (n >= 1), on up to
 * cq_par_threads() threads. */
void cq_par_run(int n, cq_par_fn fn, void *ctx);
/* Ends and joins the workers; the next region with more than one thread
 * starts them again. Returns 0, or -1 (nothing done) while a region holds
 * the pool. The library calls it at exit or when it is unloaded. */
int cq_par_stop(void);

/* pthread_create with every asynchronous signal blocked in the new thread
 * (it inherits the mask, the caller's is restored; faults still reach their
 * thread): calq's own threads never take a process-directed signal, so a
 * host's handler (the calq command's SIGINT and SIGTERM, which set a hook
 * in its lua_State) runs on a host thread, never on a worker while that
 * thread runs Lua. Returns pthread_create's code. */
int cq_par_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
