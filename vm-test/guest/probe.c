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
#include <sys/syscall.h>
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
	if (!strcmp(cmd, "exit") && argc == 3) {
		if (ioperm(0xf4, 1, 1))
			die("ioperm");
		outb((unsigned char)strtoul(argv[2], NULL, 0), 0xf4);
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of probe.c\n");
	return 64;
}
