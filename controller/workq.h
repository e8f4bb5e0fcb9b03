/*
 * A pool of worker threads for blocking calls (libssh), whose results come
 * back on the event loop's thread. The loop itself never blocks.
 * Requires evthread_use_pthreads() before the event_base was created.
 */
#ifndef FW_WORKQ_H
#define FW_WORKQ_H

struct event_base;
struct workq;

typedef void (*workq_fn)(void *arg);

/* Creates a pool of at most nthreads threads (started as needed). */
struct workq *workq_new(struct event_base *base, int nthreads);

/*
 * Runs work(arg) on a worker thread, then done(arg) on the loop thread.
 * Jobs start in submission order.
 */
void workq_submit(struct workq *wq, workq_fn work, workq_fn done, void *arg);

/* Waits for running jobs, stops the threads and frees wq. Jobs still
 * queued are dropped (their done() is not called). NULL is a no-op. */
void workq_free(struct workq *wq);

#endif
