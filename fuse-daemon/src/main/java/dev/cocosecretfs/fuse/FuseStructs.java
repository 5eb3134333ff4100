// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

/**
 * Byte offsets into libfuse2's structs on LP64 Linux, for the calls that every read makes, where a
 * jnr-ffi Struct built per call would cost more than the call. FuseStructsTest holds these to
 * jnr-fuse's own mapping of the same structs.
 */
final class FuseStructs {
    // struct fuse_file_info { int flags; unsigned long fh_old; int writepage; unsigned int bits;
    //                         uint64_t fh; uint64_t lock_owner; }
    static final long FI_FLAGS = 0;
    static final long FI_FH = 24;

    // struct fuse_buf { size_t size; enum fuse_buf_flags flags; void *mem; int fd; off_t pos; }
    static final long BUF_SIZE = 0;
    static final long BUF_FLAGS = 8;
    static final long BUF_MEM = 16;
    static final long BUF_FD = 24;
    static final long BUF_POS = 32;
    static final long BUF_BYTES = 40;

    // struct fuse_bufvec { size_t count; size_t idx; size_t off; struct fuse_buf buf[1]; }
    static final long BUFVEC_COUNT = 0;
    static final long BUFVEC_IDX = 8;
    static final long BUFVEC_OFF = 16;
    static final long BUFVEC_BUF = 24;
    static final long BUFVEC_BYTES = BUFVEC_BUF + BUF_BYTES;

    // struct fuse_in_header { uint32_t len; uint32_t opcode; uint64_t unique; uint64_t nodeid;
    //                         uint32_t uid, gid, pid, padding; }: what each raw request starts with
    static final long IN_LEN = 0;
    static final long IN_OPCODE = 4;
    static final long IN_NODEID = 16;
    static final long IN_HEADER_BYTES = 40;

    // struct fuse_args { int argc; char **argv; int allocated; }
    static final long ARGS_ARGC = 0;
    static final long ARGS_ARGV = 8;
    static final long ARGS_BYTES = 24;

    private FuseStructs() {}
}
