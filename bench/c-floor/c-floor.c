// SPDX-License-Identifier: Apache-2.0
/*
 * c-floor: the smallest libfuse2 server that does coco-secretfs's job, written only for the
 * benchmark. It shows what a hand-written C daemon costs on the same kernel path: the floor for any
 * libfuse2 design.
 *
 *   c-floor SRCDIR MOUNTPOINT [LIBFUSE-ARG...]
 *
 * Reads every regular file of SRCDIR (at most 64, 4 KiB each) into memory, then serves them in
 * the foreground, multithreaded, with the options coco-secretfs mounts with (direct_io,
 * default_permissions, fsname and subtype). Like coco-secretfs it answers getattr, readdir, open
 * (read-only), read, release, unlink (zeroes the bytes, then drops the file) and statfs; the files
 * are 0440 and the directory 0750, owned by whoever mounts. SIGTERM unmounts and exits 0 (libfuse's
 * own signal handling).
 *
 * The shape follows libfuse's example/hello.c: a high-level fuse_operations table and fuse_main.
 */
#define FUSE_USE_VERSION 26
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_MAX_FILES 64
#define FLOOR_MAX_DATA 4096
#define FLOOR_NAME_MAX 255

struct floor_file {
	char name[FLOOR_NAME_MAX + 1];
	unsigned char data[FLOOR_MAX_DATA];
	size_t len;
	int live;
	/* Readers share; an unlink waits for them and then zeroes. */
	pthread_rwlock_t lock;
};

static struct floor_file floor_files[FLOOR_MAX_FILES];
static int floor_count;
static time_t floor_mount_time;

/* The file a path names, directly under the root, or NULL. */
static struct floor_file *floor_lookup(const char *path)
{
	int i;

	if (path[0] != '/' || path[1] == 0 || strchr(path + 1, '/'))
		return NULL;
	for (i = 0; i < floor_count; i++) {
		if (floor_files[i].live && strcmp(floor_files[i].name, path + 1) == 0)
			return &floor_files[i];
	}
	return NULL;
}

static void floor_fill(struct stat *st, mode_t mode, off_t size, nlink_t links)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = mode;
	st->st_nlink = links;
	st->st_size = size;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 4096;
	st->st_blocks = (size + 511) / 512;
	st->st_atime = st->st_mtime = st->st_ctime = floor_mount_time;
}

static int floor_getattr(const char *path, struct stat *st)
{
	struct floor_file *f;

	if (strcmp(path, "/") == 0) {
		floor_fill(st, S_IFDIR | 0750, 0, 2);
		return 0;
	}
	f = floor_lookup(path);
	if (!f)
		return -ENOENT;
	floor_fill(st, S_IFREG | 0440, (off_t)f->len, 1);
	return 0;
}

static int floor_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset,
			 struct fuse_file_info *fi)
{
	int i;

	(void)offset;
	(void)fi;
	if (strcmp(path, "/") != 0)
		return floor_lookup(path) ? -ENOTDIR : -ENOENT;
	filler(buf, ".", NULL, 0);
	filler(buf, "..", NULL, 0);
	for (i = 0; i < floor_count; i++) {
		if (floor_files[i].live && filler(buf, floor_files[i].name, NULL, 0))
			break;
	}
	return 0;
}

static int floor_open(const char *path, struct fuse_file_info *fi)
{
	struct floor_file *f = floor_lookup(path);

	if (!f)
		return -ENOENT;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return -EPERM;
	fi->fh = (uint64_t)(f - floor_files);
	return 0;
}

static int floor_read(const char *path, char *buf, size_t size, off_t offset, struct fuse_file_info *fi)
{
	struct floor_file *f = &floor_files[fi->fh];
	size_t n = 0;

	(void)path;
	if (offset < 0)
		return -EINVAL;
	pthread_rwlock_rdlock(&f->lock);
	if (f->live && (size_t)offset < f->len) {
		n = f->len - (size_t)offset;
		if (n > size)
			n = size;
		memcpy(buf, f->data + offset, n);
	}
	pthread_rwlock_unlock(&f->lock);
	return (int)n;
}

static int floor_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return 0;
}

static int floor_unlink(const char *path)
{
	struct floor_file *f = floor_lookup(path);

	if (!f)
		return -ENOENT;
	pthread_rwlock_wrlock(&f->lock);
	explicit_bzero(f->data, sizeof(f->data));
	f->live = 0;
	pthread_rwlock_unlock(&f->lock);
	return 0;
}

static int floor_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = 4096;
	st->f_blocks = 1;
	st->f_files = (fsfilcnt_t)floor_count;
	st->f_namemax = FLOOR_NAME_MAX;
	return 0;
}

static int floor_refuse(void)
{
	return -EPERM;
}

static int floor_write(const char *p, const char *b, size_t s, off_t o, struct fuse_file_info *fi)
{
	(void)p, (void)b, (void)s, (void)o, (void)fi;
	return floor_refuse();
}

static int floor_create(const char *p, mode_t m, struct fuse_file_info *fi)
{
	(void)p, (void)m, (void)fi;
	return floor_refuse();
}

static int floor_mkdir(const char *p, mode_t m)
{
	(void)p, (void)m;
	return floor_refuse();
}

static int floor_truncate(const char *p, off_t s)
{
	(void)p, (void)s;
	return floor_refuse();
}

static const struct fuse_operations floor_ops = {
	.getattr = floor_getattr,
	.readdir = floor_readdir,
	.open = floor_open,
	.read = floor_read,
	.release = floor_release,
	.unlink = floor_unlink,
	.statfs = floor_statfs,
	.write = floor_write,
	.create = floor_create,
	.mkdir = floor_mkdir,
	.truncate = floor_truncate,
};

static void floor_load(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int dfd;

	if (!d) {
		perror(dir);
		exit(1);
	}
	dfd = dirfd(d);
	while ((e = readdir(d)) && floor_count < FLOOR_MAX_FILES) {
		struct floor_file *f = &floor_files[floor_count];
		int fd;
		ssize_t n;

		if (e->d_name[0] == '.' || strlen(e->d_name) > FLOOR_NAME_MAX)
			continue;
		fd = openat(dfd, e->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(e->d_name);
			exit(1);
		}
		n = read(fd, f->data, sizeof(f->data));
		close(fd);
		if (n < 0) {
			perror(e->d_name);
			exit(1);
		}
		strcpy(f->name, e->d_name);
		f->len = (size_t)n;
		f->live = 1;
		pthread_rwlock_init(&f->lock, NULL);
		floor_count++;
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	char *args[16] = {
		"c-floor", "-f", NULL, "-o",
		"direct_io,default_permissions,fsname=c-floor,subtype=c-floor",
	};
	int n = 5, i;

	if (argc < 3 || argc - 3 > 16 - n - 1) {
		fprintf(stderr, "usage: c-floor SRCDIR MOUNTPOINT [LIBFUSE-ARG...]  (e.g. -s: single-threaded)\n");
		return 64;
	}
	floor_load(argv[1]);
	floor_mount_time = time(NULL);
	args[2] = argv[2];
	for (i = 3; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	return fuse_main(n, args, &floor_ops, NULL);
}
