#include "workq.h"

#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"

struct job {
	workq_fn work;
	workq_fn done;
	void *arg;
	struct job *next;
};

struct jobq {
	struct job *head;
	struct job *tail;
};

struct workq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct jobq todo;
	struct jobq finished;
	struct event *done_ev;
	pthread_t *threads;
	int nthreads;
	int max_threads;
	int idle;		/* threads waiting for work */
	int queued;		/* jobs not yet taken by a thread */
	int stopping;
};

static void jobq_push(struct jobq *q, struct job *j)
{
	j->next = NULL;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct job *jobq_pop(struct jobq *q)
{
	struct job *j = q->head;

	if (j != NULL) {
		q->head = j->next;
		if (q->head == NULL)
			q->tail = NULL;
	}
	return j;
}

static void *worker_main(void *arg)
{
	struct workq *wq = arg;
	struct job *j;

	pthread_mutex_lock(&wq->lock);
	for (;;) {
		while (!wq->stopping && wq->todo.head == NULL) {
			wq->idle++;
			pthread_cond_wait(&wq->cond, &wq->lock);
			wq->idle--;
		}
		if (wq->stopping)
			break;
		j = jobq_pop(&wq->todo);
		wq->queued--;
		pthread_mutex_unlock(&wq->lock);
		j->work(j->arg);
		pthread_mutex_lock(&wq->lock);
		jobq_push(&wq->finished, j);
		event_active(wq->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&wq->lock);
	return NULL;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct workq *wq = arg;
	struct jobq batch;
	struct job *j;

	pthread_mutex_lock(&wq->lock);
	batch = wq->finished;
	wq->finished.head = wq->finished.tail = NULL;
	pthread_mutex_unlock(&wq->lock);
	while ((j = jobq_pop(&batch)) != NULL) {
		j->done(j->arg);
		free(j);
	}
}

struct workq *workq_new(struct event_base *base, int nthreads)
{
	struct workq *wq = xcalloc(1, sizeof(*wq));

	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->cond, NULL);
	wq->max_threads = nthreads > 0 ? nthreads : 1;
	wq->threads = xcalloc((size_t)wq->max_threads, sizeof(pthread_t));
	wq->done_ev = event_new(base, -1, 0, on_done, wq);
	if (wq->done_ev == NULL)
		fatal("cannot create the worker completion event");
	return wq;
}

void workq_submit(struct workq *wq, workq_fn work, workq_fn done, void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&wq->lock);
	jobq_push(&wq->todo, j);
	wq->queued++;
	/* A thread that was signalled still counts as idle until it wakes,
	 * so compare with the jobs waiting, not just "anyone idle". */
	if (wq->queued > wq->idle && wq->nthreads < wq->max_threads) {
		if (pthread_create(&wq->threads[wq->nthreads], NULL,
		    worker_main, wq) != 0)
			fatal("cannot start a worker thread");
		wq->nthreads++;
	}
	pthread_cond_signal(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
}

void workq_free(struct workq *wq)
{
	struct job *j;
	int i;

	if (wq == NULL)
		return;
	pthread_mutex_lock(&wq->lock);
	wq->stopping = 1;
	pthread_cond_broadcast(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
	for (i = 0; i < wq->nthreads; i++)
		pthread_join(wq->threads[i], NULL);
	while ((j = jobq_pop(&wq->todo)) != NULL)
		free(j);
	while ((j = jobq_pop(&wq->finished)) != NULL)
		free(j);
	event_free(wq->done_ev);
	pthread_cond_destroy(&wq->cond);
	pthread_mutex_destroy(&wq->lock);
	free(wq->threads);
	free(wq);
}
