/* Does a SIGKILL tear an append? A child appends RECORD-byte records to FILE in a loop, one
 * write(2) each, with O_APPEND; the parent kills it at a random moment (0-2 ms), TRIALS times, and
 * counts the files whose size is not a whole number of records. docs/RELIABILITY.md quotes it.
 *
 *   gcc -O2 -o /tmp/torn-append scripts/torn-append.c && /tmp/torn-append 300 2000 /tmp/torn.f
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s RECORD_BYTES TRIALS FILE\n", argv[0]);
        return 2;
    }
    int size = atoi(argv[1]), trials = atoi(argv[2]);
    const char *path = argv[3];
    if (size <= 0 || trials <= 0) {
        fprintf(stderr, "RECORD_BYTES and TRIALS must be positive\n");
        return 2;
    }
    char *record = malloc(size);
    memset(record, 'x', size);
    int torn = 0, on_page = 0;
    srand(42);
    for (int t = 0; t < trials; t++) {
        unlink(path);
        pid_t child = fork();
        if (child == 0) {
            int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            for (;;)
                if (write(fd, record, size) != size)
                    _exit(3);
        }
        struct timespec pause = {0, (rand() % 2000) * 1000};
        nanosleep(&pause, 0);
        kill(child, SIGKILL);
        waitpid(child, 0, 0);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (st.st_size % size) {
            torn++;
            on_page += st.st_size % 4096 == 0;
        }
    }
    unlink(path);
    printf("%d of %d kills left a record cut short (%d of them ending on a 4096-byte boundary)\n",
           torn, trials, on_page);
    return 0;
}
