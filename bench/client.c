// SPDX-License-Identifier: Apache-2.0
/*
 * bench-client: the one load generator and probe of the coco-secretfs benchmark, the same program
 * for every filesystem measured. Each command prints one line of key=value pairs on stdout.
 *
 *   bench-client orc DIR THREADS MILLIS [COUNT]
 *       open+read+close of the regular files of DIR, round robin, in THREADS threads, for MILLIS
 *       milliseconds (or, if COUNT > 0, until COUNT operations are done). Every read must return
 *       the file's whole content (at most 4 KiB) in one call. Latency is per open+read+close.
 *   bench-client readdir DIR MILLIS
 *       opendir + readdir to the end + closedir, one thread.
 *   bench-client unlink NAMES-FILE DIR...
 *       unlinks each name of NAMES-FILE in every DIR, interleaved (name 1 in each DIR, then name 2,
 *       ...), and prints one line per DIR.
 *   bench-client spawn STAMP-FILE COMMAND [ARG...]
 *       writes the CLOCK_MONOTONIC time to STAMP-FILE and execs COMMAND in the same process: the
 *       start of a daemon whose readiness wait-usable measures.
 *   bench-client wait-usable STAMP-FILE PROBE-FILE TIMEOUT-MILLIS [PID]
 *       polls open+read of PROBE-FILE every 100 us until it succeeds; prints the time since the
 *       stamp (the daemon's exec) in milliseconds. Gives up early if process PID has ended.
 *   bench-client proc PID
 *       the process's RSS, CPU time (utime+stime, all threads, dead ones included), read and write
 *       system calls (syscr/syscw of /proc/PID/io), thread count and minor page faults.
 *   bench-client run COMMAND [ARG...]
 *       runs COMMAND with its output discarded and prints its wall time from fork to exit.
 *   bench-client idle PID MILLIS
 *       the context switches (voluntary + involuntary, /proc/PID/task/TID/status) of every thread
 *       of process PID over MILLIS milliseconds while the caller asks nothing of it: one line for
 *       the process (switches, per_s, threads), then one per thread that switched (tid, comm with
 *       blanks as '_', switches). A thread started meanwhile counts from 0; one that ended
 *       meanwhile is missing from the sum (threads_ended says how many).
 *
 * Latencies are kept whole (one 32-bit ns value per operation) and sorted for the percentiles.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 64
#define MAX_NAME 256
#define READ_BUF 4096
#define MAX_SAMPLES (16u << 20)

static void die(const char *what)
{
	fprintf(stderr, "bench-client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-client orc DIR THREADS MILLIS [COUNT]\n"
			"       bench-client readdir DIR MILLIS\n"
			"       bench-client unlink NAMES-FILE DIR...\n"
			"       bench-client spawn STAMP-FILE COMMAND [ARG...]\n"
			"       bench-client wait-usable STAMP-FILE PROBE-FILE TIMEOUT-MILLIS [PID]\n"
			"       bench-client proc PID\n"
			"       bench-client run COMMAND [ARG...]\n"
			"       bench-client idle PID MILLIS\n");
	exit(64);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long parse_long(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "bench-client: %s: not a count: %s\n", what, s);
		exit(64);
	}
	return v;
}

/* Latency samples of one run: appended by all threads, each into its own slice. */
struct samples {
	uint32_t *ns;
	size_t n;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Prints mean, p50, p99 and max of the samples, in microseconds; sorts them. */
static void print_latency(uint32_t *ns, size_t n)
{
	double sum = 0;
	size_t i;

	if (n == 0) {
		printf(" mean_us=0 p50_us=0 p99_us=0 max_us=0");
		return;
	}
	qsort(ns, n, sizeof(*ns), cmp_u32);
	for (i = 0; i < n; i++)
		sum += ns[i];
	printf(" mean_us=%.2f p50_us=%.2f p99_us=%.2f max_us=%.2f", sum / n / 1e3, ns[n / 2] / 1e3,
	       ns[(size_t)((n - 1) * 0.99)] / 1e3, ns[n - 1] / 1e3);
}

static uint32_t clamp_ns(uint64_t d)
{
	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* ---- orc: open+read+close ---- */

static char names[MAX_FILES][MAX_NAME];
static size_t sizes[MAX_FILES];
static int nnames;
static int dirfd_g;

struct worker {
	pthread_t thread;
	int index;
	uint64_t millis;     /* stop after this long, or */
	long quota;          /* after this many operations if > 0 */
	uint32_t *ns;
	size_t cap, n;
	long errors;
};

static pthread_barrier_t start_line;

static void list_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;

	if (!d)
		die(dir);
	dirfd_g = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd_g < 0)
		die(dir);
	while ((e = readdir(d)) && nnames < MAX_FILES) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(names[nnames], MAX_NAME, "%s", e->d_name);
		if (fstatat(dirfd_g, e->d_name, &st, 0) != 0)
			die(e->d_name);
		nnames++;
	}
	closedir(d);
	if (nnames == 0) {
		fprintf(stderr, "bench-client: %s holds no files\n", dir);
		exit(1);
	}
}

/* The content length of each file, read once before timing (stat of a secret reports its size, but
 * efi_secret-style files may report 0, so the reads decide). */
static void learn_sizes(void)
{
	char buf[READ_BUF];
	int i;

	for (i = 0; i < nnames; i++) {
		int fd = openat(dirfd_g, names[i], O_RDONLY | O_CLOEXEC);
		ssize_t n;

		if (fd < 0)
			die(names[i]);
		n = read(fd, buf, sizeof(buf));
		if (n < 0)
			die(names[i]);
		sizes[i] = (size_t)n;
		close(fd);
	}
}

static void *orc_worker(void *arg)
{
	struct worker *w = arg;
	char buf[READ_BUF];
	int i = (w->index * nnames) / 2 % nnames;
	long done = 0;
	uint64_t deadline;

	pthread_barrier_wait(&start_line);
	deadline = now_ns() + w->millis * 1000000u;
	for (;;) {
		uint64_t t0 = now_ns(), t1;
		int fd = openat(dirfd_g, names[i], O_RDONLY | O_CLOEXEC);
		ssize_t n = -1;

		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf));
			close(fd);
		}
		t1 = now_ns();
		if (n < 0 || (size_t)n != sizes[i])
			w->errors++;
		if (w->n < w->cap)
			w->ns[w->n++] = clamp_ns(t1 - t0);
		done++;
		if (++i == nnames)
			i = 0;
		if (w->quota > 0 ? done >= w->quota : t1 >= deadline)
			break;
	}
	return NULL;
}

static int cmd_orc(int argc, char **argv)
{
	long threads, millis, count = 0;
	struct worker *w;
	uint64_t t0, t1;
	size_t total = 0, cap;
	long errors = 0;
	uint32_t *all;
	int i;

	if (argc < 4 || argc > 5)
		usage();
	threads = parse_long(argv[2], "THREADS");
	millis = parse_long(argv[3], "MILLIS");
	if (argc == 5)
		count = parse_long(argv[4], "COUNT");
	if (threads < 1 || threads > 64)
		usage();
	list_files(argv[1]);
	learn_sizes();

	cap = MAX_SAMPLES / (size_t)threads;
	all = malloc(sizeof(uint32_t) * cap * (size_t)threads);
	w = calloc((size_t)threads, sizeof(*w));
	if (!all || !w)
		die("malloc");
	pthread_barrier_init(&start_line, NULL, (unsigned)threads + 1);
	for (i = 0; i < threads; i++) {
		w[i].index = i;
		w[i].millis = (uint64_t)millis;
		w[i].quota = count > 0 ? (count + threads - 1 - i) / threads : 0;
		w[i].ns = all + (size_t)i * cap;
		w[i].cap = cap;
		if (pthread_create(&w[i].thread, NULL, orc_worker, &w[i]) != 0)
			die("pthread_create");
	}
	/* The clock starts when every thread is at the line. */
	pthread_barrier_wait(&start_line);
	t0 = now_ns();
	for (i = 0; i < threads; i++)
		pthread_join(w[i].thread, NULL);
	t1 = now_ns();
	/* Gather the slices into one run of samples. */
	for (i = 0; i < threads; i++) {
		memmove(all + total, w[i].ns, w[i].n * sizeof(uint32_t));
		total += w[i].n;
		errors += w[i].errors;
	}
	printf("ops=%zu secs=%.4f rate=%.0f errors=%ld", total, (t1 - t0) / 1e9, total / ((t1 - t0) / 1e9), errors);
	print_latency(all, total);
	printf("\n");
	return errors ? 2 : 0;
}

/* ---- readdir ---- */

static int cmd_readdir(int argc, char **argv)
{
	long millis;
	uint64_t t0, deadline, end;
	size_t cap = 1u << 20, n = 0;
	uint32_t *ns = malloc(cap * sizeof(uint32_t));
	long entries = -1, errors = 0;

	if (argc != 3)
		usage();
	millis = parse_long(argv[2], "MILLIS");
	if (!ns)
		die("malloc");
	t0 = now_ns();
	deadline = t0 + (uint64_t)millis * 1000000u;
	do {
		uint64_t a = now_ns();
		DIR *d = opendir(argv[1]);
		long count = 0;

		if (d) {
			while (readdir(d))
				count++;
			closedir(d);
		} else {
			errors++;
		}
		end = now_ns();
		if (entries < 0)
			entries = count;
		else if (count != entries)
			errors++;
		if (n < cap)
			ns[n++] = clamp_ns(end - a);
	} while (end < deadline);
	printf("ops=%zu secs=%.4f rate=%.0f entries=%ld errors=%ld", n, (end - t0) / 1e9, n / ((end - t0) / 1e9),
	       entries, errors);
	print_latency(ns, n);
	printf("\n");
	return errors ? 2 : 0;
}

/* ---- unlink ---- */

static int cmd_unlink(int argc, char **argv)
{
	int ndirs = argc - 2, d, k, errors = 0;
	char line[MAX_NAME];
	FILE *f;
	uint32_t *ns;
	int *err;

	if (ndirs < 1)
		usage();
	f = fopen(argv[1], "r");
	if (!f)
		die(argv[1]);
	while (nnames < MAX_FILES && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0])
			snprintf(names[nnames++], MAX_NAME, "%s", line);
	}
	fclose(f);
	ns = calloc((size_t)ndirs * MAX_FILES, sizeof(*ns));
	err = calloc((size_t)ndirs, sizeof(*err));
	if (!ns || !err)
		die("calloc");
	for (k = 0; k < nnames; k++) {
		/* Rotate which directory goes first, so that none always follows another. */
		for (d = 0; d < ndirs; d++) {
			int j = (d + k) % ndirs;
			char path[4096];
			uint64_t a, b;

			snprintf(path, sizeof(path), "%s/%s", argv[2 + j], names[k]);
			a = now_ns();
			if (unlink(path) != 0)
				err[j]++;
			b = now_ns();
			ns[(size_t)j * MAX_FILES + k] = clamp_ns(b - a);
		}
	}
	for (d = 0; d < ndirs; d++) {
		printf("dir=%s ops=%d errors=%d", argv[2 + d], nnames, err[d]);
		print_latency(ns + (size_t)d * MAX_FILES, (size_t)nnames);
		printf("\n");
		errors += err[d];
	}
	return errors ? 2 : 0;
}

/* ---- spawn / wait-usable ---- */

static int cmd_spawn(int argc, char **argv)
{
	char stamp[64];
	int fd, len;

	if (argc < 3)
		usage();
	len = snprintf(stamp, sizeof(stamp), "%llu\n", (unsigned long long)now_ns());
	/* Written whole to a temporary name and renamed, so that a reader never sees half a stamp. */
	{
		char tmp[4096];

		snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, stamp, (size_t)len) != len || close(fd) != 0)
			die(tmp);
		if (rename(tmp, argv[1]) != 0)
			die(argv[1]);
	}
	execvp(argv[2], argv + 2);
	die(argv[2]);
	return 1;
}

/* True while process PID exists and is not a zombie. */
static int alive(const char *pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static int cmd_wait_usable(int argc, char **argv)
{
	const struct timespec pause = {0, 100000};
	unsigned long long stamp = 0;
	uint64_t timeout_ns, started = now_ns();
	long polls = 0;
	char buf[READ_BUF];

	if (argc != 4 && argc != 5)
		usage();
	timeout_ns = (uint64_t)parse_long(argv[3], "TIMEOUT-MILLIS") * 1000000u;
	for (;;) {
		FILE *f = fopen(argv[1], "r");

		if (f) {
			int ok = fscanf(f, "%llu", &stamp) == 1;

			fclose(f);
			if (ok)
				break;
		}
		if (now_ns() - started > timeout_ns) {
			fprintf(stderr, "bench-client: no stamp in %s\n", argv[1]);
			return 1;
		}
		nanosleep(&pause, NULL);
	}
	for (;;) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		uint64_t t;

		polls++;
		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf));

			close(fd);
			if (n > 0) {
				t = now_ns();
				printf("start_ms=%.3f polls=%ld\n", (t - stamp) / 1e6, polls);
				return 0;
			}
		}
		if (now_ns() - started > timeout_ns) {
			fprintf(stderr, "bench-client: %s not readable within %s ms\n", argv[2], argv[3]);
			return 1;
		}
		if (argc == 5 && (polls & 63) == 0 && !alive(argv[4])) {
			fprintf(stderr, "bench-client: process %s ended before %s was readable\n", argv[4], argv[2]);
			return 1;
		}
		nanosleep(&pause, NULL);
	}
}

/* ---- run ---- */

static int cmd_run(int argc, char **argv)
{
	uint64_t t0;
	pid_t pid;
	int status;

	if (argc < 2)
		usage();
	t0 = now_ns();
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	printf("run_ms=%.3f status=%d\n", (now_ns() - t0) / 1e6, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 2;
}

/* ---- proc ---- */

static int cmd_proc(int argc, char **argv)
{
	char path[64], buf[4096], *p;
	unsigned long long utime = 0, stime = 0, minflt = 0, syscr = 0, syscw = 0;
	long rss_kb = -1, threads = -1;
	FILE *f;
	size_t n;

	if (argc != 2)
		usage();
	snprintf(path, sizeof(path), "/proc/%s/stat", argv[1]);
	f = fopen(path, "r");
	if (!f)
		die(path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* Fields after the command name, which is in parentheses and may hold anything. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu %*u %*u %*u %llu %llu", &minflt, &utime,
			 &stime) != 3) {
		fprintf(stderr, "bench-client: cannot parse %s\n", path);
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%s/status", argv[1]);
	f = fopen(path, "r");
	if (!f)
		die(path);
	while (fgets(buf, sizeof(buf), f)) {
		sscanf(buf, "VmRSS: %ld", &rss_kb);
		sscanf(buf, "Threads: %ld", &threads);
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%s/io", argv[1]);
	f = fopen(path, "r");
	if (f) {
		while (fgets(buf, sizeof(buf), f)) {
			sscanf(buf, "syscr: %llu", &syscr);
			sscanf(buf, "syscw: %llu", &syscw);
		}
		fclose(f);
	}
	printf("rss_kb=%ld cpu_ms=%.1f syscr=%llu syscw=%llu threads=%ld minflt=%llu\n", rss_kb,
	       (utime + stime) * 1000.0 / (double)sysconf(_SC_CLK_TCK), syscr, syscw, threads, minflt);
	return 0;
}

/* ---- idle ---- */

#define MAX_TASKS 1024

struct task_switches {
	long tid;
	unsigned long long switches;
	char comm[32];
};

/* Reads every thread of PID into t (at most MAX_TASKS); returns how many, or -1. */
static int task_snapshot(const char *pid, struct task_switches *t)
{
	char path[512], buf[256];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) && n < MAX_TASKS) {
		unsigned long long v = 0, nv = 0;
		FILE *f;
		char *c;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task/%s/status", pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* ended between readdir and open */
		while (fgets(buf, sizeof(buf), f)) {
			sscanf(buf, "voluntary_ctxt_switches: %llu", &v);
			sscanf(buf, "nonvoluntary_ctxt_switches: %llu", &nv);
		}
		fclose(f);
		t[n].tid = atol(e->d_name);
		t[n].switches = v + nv;
		t[n].comm[0] = 0;
		snprintf(path, sizeof(path), "/proc/%s/task/%s/comm", pid, e->d_name);
		f = fopen(path, "r");
		if (f) {
			if (!fgets(t[n].comm, sizeof(t[n].comm), f))
				t[n].comm[0] = 0;
			fclose(f);
		}
		t[n].comm[strcspn(t[n].comm, "\n")] = 0;
		for (c = t[n].comm; *c; c++) {
			if (*c == ' ' || *c == '\t' || *c == '=')
				*c = '_';
		}
		n++;
	}
	closedir(d);
	return n;
}

static int cmd_idle(int argc, char **argv)
{
	static struct task_switches before[MAX_TASKS], after[MAX_TASKS];
	unsigned long long total = 0;
	int nb, na, i, j, ended = 0;
	struct timespec pause;
	uint64_t t0, t1;
	long millis;

	if (argc != 3)
		usage();
	millis = parse_long(argv[2], "MILLIS");
	pause.tv_sec = millis / 1000;
	pause.tv_nsec = (millis % 1000) * 1000000L;
	t0 = now_ns();
	nb = task_snapshot(argv[1], before);
	if (nb < 0)
		die(argv[1]);
	while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
		;
	na = task_snapshot(argv[1], after);
	t1 = now_ns();
	if (na < 0)
		die(argv[1]);
	for (i = 0; i < nb; i++) {
		for (j = 0; j < na && after[j].tid != before[i].tid; j++)
			;
		if (j == na)
			ended++;
	}
	for (j = 0; j < na; j++) {
		unsigned long long base = 0;

		for (i = 0; i < nb; i++) {
			if (before[i].tid == after[j].tid) {
				base = before[i].switches;
				break;
			}
		}
		after[j].switches -= base;
		total += after[j].switches;
	}
	printf("switches=%llu seconds=%.3f per_s=%.3f threads=%d threads_ended=%d\n", total, (t1 - t0) / 1e9,
	       total / ((t1 - t0) / 1e9), na, ended);
	for (j = 0; j < na; j++) {
		if (after[j].switches)
			printf("tid=%ld comm=%s switches=%llu\n", after[j].tid, after[j].comm[0] ? after[j].comm : "?",
			       after[j].switches);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "orc"))
		return cmd_orc(argc - 1, argv + 1);
	if (!strcmp(argv[1], "readdir"))
		return cmd_readdir(argc - 1, argv + 1);
	if (!strcmp(argv[1], "unlink"))
		return cmd_unlink(argc - 1, argv + 1);
	if (!strcmp(argv[1], "spawn"))
		return cmd_spawn(argc - 1, argv + 1);
	if (!strcmp(argv[1], "wait-usable"))
		return cmd_wait_usable(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "proc"))
		return cmd_proc(argc - 1, argv + 1);
	if (!strcmp(argv[1], "idle"))
		return cmd_idle(argc - 1, argv + 1);
	usage();
	return 64;
}
