/* What moving one cache line between the two cores costs on this machine: two threads, pinned
 * to CPUs 0 and 1, pass a counter back and forth through one atomic word N times; a round trip
 * is two transfers of the line. docs/ENGINE.md ("Where the two-thread loss goes") quotes it: a
 * check that takes its shard's lock line from the other core pays one transfer.
 *
 *   gcc -O2 -pthread -o /tmp/line-transfer scripts/line-transfer.c && /tmp/line-transfer
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define N 2000000L

static _Atomic long word __attribute__((aligned(64)));

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *answer(void *unused) {
    (void)unused;
    pin(1);
    for (long i = 0; i < N; i++) {
        while (atomic_load_explicit(&word, memory_order_acquire) != 2 * i + 1)
            ;
        atomic_store_explicit(&word, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

int main(void) {
    pthread_t other;
    pthread_create(&other, NULL, answer, NULL);
    pin(0);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < N; i++) {
        atomic_store_explicit(&word, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&word, memory_order_acquire) != 2 * i + 2)
            ;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    pthread_join(other, NULL);
    double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
    printf("round trip %.1f ns: one transfer of a line between the cores about %.1f ns\n",
           ns / N, ns / N / 2);
    return 0;
}
