// SPDX-License-Identifier: Apache-2.0
/*
 * Prints, as NAME VALUE lines, the layout of the libfuse2 structs that
 * platform/FuseLowLevel and platform/Operations write by hand, as this
 * machine's C compiler sees them in libfuse's own headers. FuseAbiTest
 * compiles it and holds the Java constants to it.
 */
#define FUSE_USE_VERSION 26
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>

#define P(name, value) printf("%s %ld\n", name, (long)(value))
#define OP(field) P("OP_" #field, offsetof(struct fuse_lowlevel_ops, field) / sizeof(void *))

int main(void)
{
	struct fuse_file_info fi;
	unsigned int bits;

	P("ST_INO", offsetof(struct stat, st_ino));
	P("ST_NLINK", offsetof(struct stat, st_nlink));
	P("ST_MODE", offsetof(struct stat, st_mode));
	P("ST_UID", offsetof(struct stat, st_uid));
	P("ST_GID", offsetof(struct stat, st_gid));
	P("ST_SIZE", offsetof(struct stat, st_size));
	P("ST_BLKSIZE", offsetof(struct stat, st_blksize));
	P("ST_BLOCKS", offsetof(struct stat, st_blocks));
	P("ST_ATIME", offsetof(struct stat, st_atim));
	P("ST_MTIME", offsetof(struct stat, st_mtim));
	P("ST_CTIME", offsetof(struct stat, st_ctim));
	P("STAT_BYTES", sizeof(struct stat));

	P("ENTRY_INO", offsetof(struct fuse_entry_param, ino));
	P("ENTRY_GENERATION", offsetof(struct fuse_entry_param, generation));
	P("ENTRY_ATTR", offsetof(struct fuse_entry_param, attr));
	P("ENTRY_ATTR_TIMEOUT", offsetof(struct fuse_entry_param, attr_timeout));
	P("ENTRY_ENTRY_TIMEOUT", offsetof(struct fuse_entry_param, entry_timeout));
	P("ENTRY_BYTES", sizeof(struct fuse_entry_param));

	P("FI_FLAGS", offsetof(struct fuse_file_info, flags));
	P("FI_FH", offsetof(struct fuse_file_info, fh));
	P("FI_BYTES", sizeof(struct fuse_file_info));
	/* The bit-field word after writepage, and direct_io's bit in it. */
	P("FI_BITS", offsetof(struct fuse_file_info, writepage) + sizeof(fi.writepage));
	memset(&fi, 0, sizeof(fi));
	fi.direct_io = 1;
	memcpy(&bits, (char *)&fi + offsetof(struct fuse_file_info, writepage) + sizeof(fi.writepage), sizeof(bits));
	P("FI_DIRECT_IO", bits);

	P("SV_BSIZE", offsetof(struct statvfs, f_bsize));
	P("SV_FRSIZE", offsetof(struct statvfs, f_frsize));
	P("SV_BLOCKS", offsetof(struct statvfs, f_blocks));
	P("SV_FILES", offsetof(struct statvfs, f_files));
	P("SV_NAMEMAX", offsetof(struct statvfs, f_namemax));
	P("STATVFS_BYTES", sizeof(struct statvfs));

	P("CTX_UID", offsetof(struct fuse_ctx, uid));
	P("CTX_PID", offsetof(struct fuse_ctx, pid));

	P("BUF_SIZE", offsetof(struct fuse_buf, size));
	P("BUF_FLAGS", offsetof(struct fuse_buf, flags));
	P("BUF_MEM", offsetof(struct fuse_buf, mem));
	P("BUF_FD", offsetof(struct fuse_buf, fd));
	P("BUF_POS", offsetof(struct fuse_buf, pos));
	P("BUF_BYTES", sizeof(struct fuse_buf));

	P("ARGS_ARGC", offsetof(struct fuse_args, argc));
	P("ARGS_ARGV", offsetof(struct fuse_args, argv));
	P("ARGS_BYTES", sizeof(struct fuse_args));

	P("IN_LEN", offsetof(struct fuse_in_header, len));
	P("IN_OPCODE", offsetof(struct fuse_in_header, opcode));
	P("IN_UNIQUE", offsetof(struct fuse_in_header, unique));
	P("IN_HEADER_BYTES", sizeof(struct fuse_in_header));
	P("OUT_LEN", offsetof(struct fuse_out_header, len));
	P("OUT_ERROR", offsetof(struct fuse_out_header, error));
	P("OUT_UNIQUE", offsetof(struct fuse_out_header, unique));
	P("OUT_HEADER_BYTES", sizeof(struct fuse_out_header));

	P("IOV_BYTES", sizeof(struct iovec));
	P("OPS_COUNT", sizeof(struct fuse_lowlevel_ops) / sizeof(void *));
	OP(init);
	OP(lookup);
	OP(getattr);
	OP(setattr);
	OP(readlink);
	OP(mknod);
	OP(mkdir);
	OP(unlink);
	OP(rmdir);
	OP(symlink);
	OP(rename);
	OP(link);
	OP(open);
	OP(read);
	OP(write);
	OP(release);
	OP(readdir);
	OP(statfs);
	OP(setxattr);
	OP(removexattr);
	OP(create);
	OP(fallocate);
	return 0;
}
