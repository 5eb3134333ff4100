// SPDX-License-Identifier: Apache-2.0
/*
 * probe - the few system calls the VM test needs and busybox has no tool for.
 * Built static on the host and shipped in the guest's initramfs.
 *
 *   probe pread  FILE OFF LEN          one pread(); the bytes read go to stdout
 *   probe pwrite FILE OFF LEN [BYTE]   one pwrite() of LEN zero bytes, the last one
 *                                      replaced by BYTE (hex) if given;
 *                                      prints "ret=N" or "err=NAME"
 *   probe seekend FILE                 prints lseek(fd, 0, SEEK_END)
 *   probe mmap FILE LEN                prints "ok" or "err=NAME" for a read-only mmap
 *   probe finit MODULE PARAMS          one finit_module(2) with PARAMS ("" for none);
 *                                      prints "ret=0" or "err=NAME" (busybox's insmod
 *                                      retries a refused load with init_module(2))
 *   probe unlink FILE                  one unlink(); prints "ret=0" or "err=NAME"
 *   probe readloop LOG STOP PAUSE-MS PATH=EXPECTED...
 *                                      the reader of phase 3: opens, reads whole and
 *                                      closes each PATH in turn, PAUSE-MS apart, until
 *                                      the file STOP exists; EXPECTED is a file with the
 *                                      bytes PATH must hold, or "-" for a PATH that must
 *                                      not exist (ENOENT). Appends one line a read to LOG
 *                                      (see readloop below); never the bytes read.
 *   probe exit CODE                    writes CODE to QEMU's isa-debug-exit port 0xf4
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "probe: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void result(long ret)
{
	if (ret < 0)
		printf("err=%s\n", strerrorname_np(errno));
	else
		printf("ret=%ld\n", ret);
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd < 0)
		die(path);
	return fd;
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

/* The whole content of FILE, read once (the expected bytes); its length in *len. */
static char *slurp(const char *file, size_t *len)
{
	int fd = open_or_die(file, O_RDONLY);
	struct stat st;
	char *buf;

	if (fstat(fd, &st))
		die(file);
	buf = malloc(st.st_size + 1);
	if (!buf)
		die("malloc");
	*len = 0;
	while (*len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + *len, st.st_size - *len);

		if (n <= 0)
			die(file);
		*len += n;
	}
	close(fd);
	return buf;
}

struct target {
	const char *path;
	char *want;	/* NULL: the path must not exist */
	size_t len;
};

/*
 * readloop: the reader that stands in for a container's process. One line a read, written
 * with one write(2) on LOG opened O_APPEND, so that the marks the checks append between
 * them stay in order:
 *   ok MS PATH                 PATH read back exactly its expected bytes
 *   absent MS PATH             PATH, which must not exist, does not (ENOENT)
 *   err MS PATH NAME (TEXT)    open or read failed: errno's name and strerror's text
 *   bad MS PATH                PATH read, but not its expected bytes (length or content)
 *   back MS PATH               PATH, which must not exist, opened
 * MS is how long the read took, in milliseconds. Ends with "end N" (reads done).
 */
static int readloop(const char *log, const char *stop, long pause_ms, int n, char **specs)
{
	struct target *t = calloc(n, sizeof(*t));
	size_t cap = 1 << 16;
	char *buf = malloc(cap), line[4096];
	struct timespec pause = { pause_ms / 1000, pause_ms % 1000 * 1000000 };
	long reads = 0;
	int out = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600), i, len;

	if (!t || !buf)
		die("malloc");
	if (out < 0)
		die(log);
	for (i = 0; i < n; i++) {
		char *eq = strrchr(specs[i], '=');

		if (!eq) {
			fprintf(stderr, "probe: readloop: '%s' is not PATH=EXPECTED\n", specs[i]);
			return 64;
		}
		*eq = 0;
		t[i].path = specs[i];
		if (strcmp(eq + 1, "-"))
			t[i].want = slurp(eq + 1, &t[i].len);
	}
	for (i = 0; access(stop, F_OK); i = (i + 1) % n, reads++) {
		long t0 = now_ms();
		int fd = open(t[i].path, O_RDONLY), err = 0;
		size_t got = 0;
		const char *verdict;

		if (fd >= 0) {
			ssize_t r;

			while ((r = read(fd, buf + got, cap - got)) > 0 && (got += r) < cap)
				;
			if (r < 0)
				err = errno;
			close(fd);
		} else {
			err = errno;
		}
		if (!t[i].want)
			verdict = fd < 0 && err == ENOENT ? "absent" : fd >= 0 ? "back" : "err";
		else if (err)
			verdict = "err";
		else
			verdict = got == t[i].len && !memcmp(buf, t[i].want, got) ? "ok" : "bad";
		if (!strcmp(verdict, "err"))
			len = snprintf(line, sizeof(line), "err %ld %s %s (%s)\n", now_ms() - t0, t[i].path,
				       strerrorname_np(err) ? strerrorname_np(err) : "?", strerror(err));
		else
			len = snprintf(line, sizeof(line), "%s %ld %s\n", verdict, now_ms() - t0, t[i].path);
		if (write(out, line, len) != len)
			die(log);
		nanosleep(&pause, NULL);
	}
	len = snprintf(line, sizeof(line), "end %ld\n", reads);
	if (write(out, line, len) != len)
		die(log);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "pread") && argc == 5) {
		size_t len = strtoul(argv[4], NULL, 0);
		char *buf = malloc(len + 1);
		int fd = open_or_die(argv[2], O_RDONLY);
		ssize_t n;

		if (!buf)
			die("malloc");
		n = pread(fd, buf, len, strtoll(argv[3], NULL, 0));
		if (n < 0)
			die("pread");
		if (fwrite(buf, 1, n, stdout) != (size_t)n)
			die("stdout");
		return 0;
	}
	if (!strcmp(cmd, "pwrite") && (argc == 5 || argc == 6)) {
		size_t len = strtoul(argv[4], NULL, 0);
		char *buf = calloc(1, len + 1);
		int fd = open_or_die(argv[2], O_WRONLY);

		if (!buf)
			die("calloc");
		if (argc == 6 && len)
			buf[len - 1] = (char)strtoul(argv[5], NULL, 16);
		result(pwrite(fd, buf, len, strtoll(argv[3], NULL, 0)));
		return 0;
	}
	if (!strcmp(cmd, "seekend") && argc == 3) {
		int fd = open_or_die(argv[2], O_RDONLY);

		result(lseek(fd, 0, SEEK_END));
		return 0;
	}
	if (!strcmp(cmd, "mmap") && argc == 4) {
		int fd = open_or_die(argv[2], O_RDONLY);
		void *p = mmap(NULL, strtoul(argv[3], NULL, 0), PROT_READ, MAP_SHARED, fd, 0);

		if (p == MAP_FAILED)
			printf("err=%s\n", strerrorname_np(errno));
		else
			printf("ok\n");
		return 0;
	}
	if (!strcmp(cmd, "finit") && argc == 4) {
		int fd = open_or_die(argv[2], O_RDONLY);

		result(syscall(SYS_finit_module, fd, argv[3], 0));
		return 0;
	}
	if (!strcmp(cmd, "unlink") && argc == 3) {
		result(unlink(argv[2]));
		return 0;
	}
	if (!strcmp(cmd, "readloop") && argc >= 6)
		return readloop(argv[2], argv[3], strtol(argv[4], NULL, 0), argc - 5, argv + 5);
	if (!strcmp(cmd, "exit") && argc == 3) {
		if (ioperm(0xf4, 1, 1))
			die("ioperm");
		outb((unsigned char)strtoul(argv[2], NULL, 0), 0xf4);
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of probe.c\n");
	return 64;
}
