// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.HeapInvocationBuffer;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import java.nio.charset.StandardCharsets;

/**
 * libfuse2's low-level API ({@code fuse_lowlevel.h}), bound through jffi by symbol version: the
 * session and its channel, the replies, and the byte layout of the structs they take, on LP64 Linux.
 *
 * <p>Why the low-level API: in it the filesystem chooses the node ids the kernel caches, so every
 * daemon serving the same page can give a secret the same id, and a daemon can take over a live
 * connection from the one before it. The high-level API numbers nodes per process.
 *
 * <p>Why by version: libfuse2 exports several versions of {@code fuse_mount}, {@code fuse_unmount},
 * {@code fuse_lowlevel_new}, {@code fuse_reply_open} and others for old callers, and a plain {@code
 * dlsym} returns the oldest, whose arguments differ. Each function is looked up with {@code dlvsym}
 * in the version whose prototype it is called with (the versions {@code fuse_lowlevel.h} selects
 * for FUSE_USE_VERSION 26).
 *
 * <p>Arguments and results are native addresses: {@code fuse_req_t}, {@code struct fuse_chan *},
 * {@code struct fuse_session *}, and structs laid out with the offsets below. The jffi calls generate
 * no classes, so binding costs nothing at start beyond the lookups.
 */
public final class FuseLowLevel {
    private static final String LIBRARY = "libfuse.so.2";
    private static final int RTLD_NOW = 2;
    private static final Invoker INVOKER = Invoker.getInstance();
    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    // struct stat (x86-64): dev 0, ino 8, nlink 16, mode 24, uid 28, gid 32, rdev 40, size 48,
    // blksize 56, blocks 64, atim 72, mtim 88, ctim 104 (struct timespec: sec, nsec), 144 in all.
    static final long ST_INO = 8;
    static final long ST_NLINK = 16;
    static final long ST_MODE = 24;
    static final long ST_UID = 28;
    static final long ST_GID = 32;
    static final long ST_SIZE = 48;
    static final long ST_BLKSIZE = 56;
    static final long ST_BLOCKS = 64;
    static final long ST_ATIME = 72;
    static final long ST_MTIME = 88;
    static final long ST_CTIME = 104;
    static final long STAT_BYTES = 144;

    // struct fuse_entry_param { fuse_ino_t ino; unsigned long generation; struct stat attr;
    //                           double attr_timeout; double entry_timeout; }
    static final long ENTRY_INO = 0;
    static final long ENTRY_GENERATION = 8;
    static final long ENTRY_ATTR = 16;
    static final long ENTRY_ATTR_TIMEOUT = 160;
    static final long ENTRY_ENTRY_TIMEOUT = 168;
    static final long ENTRY_BYTES = 176;

    // struct fuse_file_info { int flags; unsigned long fh_old; int writepage; unsigned int bits;
    //                         uint64_t fh; uint64_t lock_owner; }; bits: direct_io is bit 0.
    static final long FI_FLAGS = 0;
    static final long FI_BITS = 20;
    static final long FI_FH = 24;
    static final long FI_BYTES = 40;
    static final int FI_DIRECT_IO = 1;

    // struct statvfs (x86-64): bsize 0, frsize 8, blocks 16, bfree 24, bavail 32, files 40, ffree 48,
    // favail 56, fsid 64, flag 72, namemax 80, spare to 112.
    static final long SV_BSIZE = 0;
    static final long SV_FRSIZE = 8;
    static final long SV_BLOCKS = 16;
    static final long SV_FILES = 40;
    static final long SV_NAMEMAX = 80;
    static final long STATVFS_BYTES = 112;

    // struct fuse_ctx { uid_t uid; gid_t gid; pid_t pid; mode_t umask; }
    static final long CTX_UID = 0;
    static final long CTX_PID = 8;

    // struct fuse_buf { size_t size; enum fuse_buf_flags flags; void *mem; int fd; off_t pos; }
    public static final long BUF_SIZE = 0;
    public static final long BUF_FLAGS = 8;
    public static final long BUF_MEM = 16;
    public static final long BUF_FD = 24;
    public static final long BUF_POS = 32;
    public static final long BUF_BYTES = 40;

    // struct fuse_in_header { uint32_t len; uint32_t opcode; uint64_t unique; uint64_t nodeid;
    //                         uint32_t uid, gid, pid, padding; }: what each raw request starts with
    public static final long IN_LEN = 0;
    public static final long IN_OPCODE = 4;
    public static final long IN_UNIQUE = 8;
    public static final long IN_HEADER_BYTES = 40;

    // struct fuse_out_header { uint32_t len; int32_t error; uint64_t unique; }
    static final long OUT_LEN = 0;
    static final long OUT_ERROR = 4;
    static final long OUT_UNIQUE = 8;
    static final int OUT_HEADER_BYTES = 16;

    // struct fuse_args { int argc; char **argv; int allocated; }
    static final long ARGS_ARGC = 0;
    static final long ARGS_ARGV = 8;
    static final long ARGS_BYTES = 24;

    // struct iovec { void *iov_base; size_t iov_len; }
    static final long IOV_BYTES = 16;

    private static final CallContext P_P = context(Type.POINTER, Type.POINTER);
    private static final CallContext P_SI = context(Type.POINTER, Type.SINT);
    private static final CallContext P_PP = context(Type.POINTER, Type.POINTER, Type.POINTER);
    private static final CallContext P_PPP = context(Type.POINTER, Type.POINTER, Type.POINTER, Type.POINTER);
    private static final CallContext P_PPLP = context(Type.POINTER, Type.POINTER, Type.POINTER, Type.UINT64,
            Type.POINTER);
    private static final CallContext L_P = context(Type.UINT64, Type.POINTER);
    private static final CallContext I_P = context(Type.SINT, Type.POINTER);
    private static final CallContext I_PI = context(Type.SINT, Type.POINTER, Type.SINT);
    private static final CallContext I_PP = context(Type.SINT, Type.POINTER, Type.POINTER);
    private static final CallContext I_PPL = context(Type.SINT, Type.POINTER, Type.POINTER, Type.UINT64);
    private static final CallContext I_PPP = context(Type.SINT, Type.POINTER, Type.POINTER, Type.POINTER);
    private static final CallContext I_PPD = context(Type.SINT, Type.POINTER, Type.POINTER, Type.DOUBLE);
    private static final CallContext L_PPLPPL = context(Type.UINT64, Type.POINTER, Type.POINTER, Type.UINT64,
            Type.POINTER, Type.POINTER, Type.SINT64);
    private static final CallContext V_P = context(Type.VOID, Type.POINTER);
    private static final CallContext V_PP = context(Type.VOID, Type.POINTER, Type.POINTER);
    private static final CallContext V_PPP = context(Type.VOID, Type.POINTER, Type.POINTER, Type.POINTER);
    private static final CallContext I_PLLL = context(Type.SINT, Type.POINTER, Type.UINT64, Type.SINT64,
            Type.SINT64);
    private static final CallContext I_PLPL = context(Type.SINT, Type.POINTER, Type.UINT64, Type.POINTER,
            Type.UINT64);

    private final long mount;
    private final long unmount;
    private final long lowlevelNew;
    private final long kernChannel;
    private final long addChannel;
    private final long destroySession;
    private final long channelFd;
    private final long channelSend;
    private final long bufferSize;
    private final long receive;
    private final long process;
    private final long exit;
    private final long freeArgs;
    private final long invalInode;
    private final long invalEntry;
    private final long replyErr;
    private final long replyNone;
    private final long replyEntry;
    private final long replyAttr;
    private final long replyOpen;
    private final long replyReadlink;
    private final long replyBuf;
    private final long replyStatfs;
    private final long addDirentry;
    private final long requestContext;

    private FuseLowLevel(long handle, long dlvsym) {
        mount = symbol(handle, dlvsym, "fuse_mount", "FUSE_2.6");
        unmount = symbol(handle, dlvsym, "fuse_unmount", "FUSE_2.6");
        lowlevelNew = symbol(handle, dlvsym, "fuse_lowlevel_new", "FUSE_2.6");
        kernChannel = symbol(handle, dlvsym, "fuse_kern_chan_new", "FUSE_2.4");
        addChannel = symbol(handle, dlvsym, "fuse_session_add_chan", "FUSE_2.4");
        destroySession = symbol(handle, dlvsym, "fuse_session_destroy", "FUSE_2.4");
        channelFd = symbol(handle, dlvsym, "fuse_chan_fd", "FUSE_2.4");
        channelSend = symbol(handle, dlvsym, "fuse_chan_send", "FUSE_2.4");
        bufferSize = symbol(handle, dlvsym, "fuse_chan_bufsize", "FUSE_2.4");
        receive = symbol(handle, dlvsym, "fuse_session_receive_buf", "FUSE_2.9");
        process = symbol(handle, dlvsym, "fuse_session_process_buf", "FUSE_2.9");
        exit = symbol(handle, dlvsym, "fuse_session_exit", "FUSE_2.4");
        freeArgs = symbol(handle, dlvsym, "fuse_opt_free_args", "FUSE_2.5");
        invalInode = symbol(handle, dlvsym, "fuse_lowlevel_notify_inval_inode", "FUSE_2.8");
        invalEntry = symbol(handle, dlvsym, "fuse_lowlevel_notify_inval_entry", "FUSE_2.8");
        replyErr = symbol(handle, dlvsym, "fuse_reply_err", "FUSE_2.4");
        replyNone = symbol(handle, dlvsym, "fuse_reply_none", "FUSE_2.4");
        replyEntry = symbol(handle, dlvsym, "fuse_reply_entry", "FUSE_2.4");
        replyAttr = symbol(handle, dlvsym, "fuse_reply_attr", "FUSE_2.4");
        replyOpen = symbol(handle, dlvsym, "fuse_reply_open", "FUSE_2.5");
        replyReadlink = symbol(handle, dlvsym, "fuse_reply_readlink", "FUSE_2.4");
        replyBuf = symbol(handle, dlvsym, "fuse_reply_buf", "FUSE_2.4");
        replyStatfs = symbol(handle, dlvsym, "fuse_reply_statfs", "FUSE_2.5");
        addDirentry = symbol(handle, dlvsym, "fuse_add_direntry", "FUSE_2.6");
        requestContext = symbol(handle, dlvsym, "fuse_req_ctx", "FUSE_2.8");
    }

    private static final class Holder {
        static final FuseLowLevel INSTANCE = bind();
    }

    /**
     * libfuse.so.2, bound once.
     *
     * @throws UnsatisfiedLinkError if the library or one of its functions is missing
     */
    public static FuseLowLevel get() {
        return Holder.INSTANCE;
    }

    private static FuseLowLevel bind() {
        Library libc = Library.getDefault();
        long dlopen = libc.getSymbolAddress("dlopen");
        long dlvsym = libc.getSymbolAddress("dlvsym");
        if (dlopen == 0 || dlvsym == 0) {
            throw new UnsatisfiedLinkError("the C library has no dlopen or dlvsym");
        }
        long name = NativeMemory.cString(LIBRARY);
        long handle;
        try {
            handle = INVOKER.invokeL2(context(Type.POINTER, Type.POINTER, Type.SINT), dlopen, name, RTLD_NOW);
        } finally {
            NativeMemory.free(name);
        }
        if (handle == 0) {
            throw new UnsatisfiedLinkError("cannot load " + LIBRARY + ": install libfuse2");
        }
        return new FuseLowLevel(handle, dlvsym);
    }

    private static long symbol(long handle, long dlvsym, String name, String version) {
        long cName = NativeMemory.cString(name);
        long cVersion = NativeMemory.cString(version);
        try {
            long address = INVOKER.invokeL3(P_PPP, dlvsym, handle, cName, cVersion);
            if (address == 0) {
                throw new UnsatisfiedLinkError(LIBRARY + " has no " + name + "@" + version);
            }
            return address;
        } finally {
            NativeMemory.free(cName);
            NativeMemory.free(cVersion);
        }
    }

    static CallContext context(Type result, Type... parameters) {
        // No errno to keep: these calls report failure in their results.
        return new CallContext(result, parameters, CallingConvention.DEFAULT, false);
    }

    // The session.

    /**
     * Mounts at {@code mountPoint} with the mount options of the {@code struct fuse_args} at {@code args}
     * (built by {@link Args}): a channel, or 0 (libfuse has printed why).
     */
    public long mount(String mountPoint, long args) {
        long where = NativeMemory.cString(mountPoint);
        try {
            return INVOKER.invokeL2(P_PP, mount, where, args);
        } finally {
            NativeMemory.free(where);
        }
    }

    /** Unmounts, unless the kernel already has, and destroys the channel (closing its descriptor). */
    public void unmount(String mountPoint, long channel) {
        long where = NativeMemory.cString(mountPoint);
        try {
            INVOKER.invokeL2(V_PP, unmount, where, channel);
        } finally {
            NativeMemory.free(where);
        }
    }

    /**
     * A session answering with {@code ops} (a {@code struct fuse_lowlevel_ops} of {@link Operations}),
     * or 0 (libfuse has printed why). {@code args} holds the low-level options (none: just a name).
     */
    public long newSession(long args, Operations ops) {
        return INVOKER.invokeL4(P_PPLP, lowlevelNew, args, ops.address(), Operations.BYTES, 0);
    }

    /** A channel on an open /dev/fuse descriptor that is already connected to a mount; 0 on failure. */
    public long channelOn(int fd) {
        return INVOKER.invokeL1(P_SI, kernChannel, fd);
    }

    public void addChannel(long session, long channel) {
        INVOKER.invokeL2(V_PP, addChannel, session, channel);
    }

    /** Destroys the session and its channels (closing their descriptors). */
    public void destroySession(long session) {
        INVOKER.invokeL1(V_P, destroySession, session);
    }

    /** The /dev/fuse descriptor of a channel. */
    public int channelFd(long channel) {
        return (int) INVOKER.invokeL1(I_P, channelFd, channel);
    }

    /** Size of the buffer a request may need. */
    public long bufferSize(long channel) {
        return INVOKER.invokeL1(L_P, bufferSize, channel);
    }

    /**
     * Waits for the next request. Returns its size; 0 once the session has exited or the filesystem is
     * unmounted; -EINTR or -EAGAIN to be tried again; another negative errno on failure.
     */
    public int receive(long session, long buf, long channelSlot) {
        return (int) INVOKER.invokeL3(I_PPP, receive, session, buf, channelSlot);
    }

    /** Answers a request: runs the filesystem's callback on this thread, which replies. */
    public void process(long session, long buf, long channel) {
        INVOKER.invokeL3(V_PPP, process, session, buf, channel);
    }

    /** Marks the session as exited: the next receive returns 0 (and drops what it read). */
    public void exit(long session) {
        INVOKER.invokeL1(V_P, exit, session);
    }

    /**
     * Writes a bare error reply for the request with id {@code unique} on {@code channel}, outside
     * libfuse's bookkeeping: for a request that a previous daemon read and never answered. The kernel
     * refuses a reply for an id not in flight (ENOENT) and changes nothing then.
     *
     * @return 0, or a negative errno
     */
    public int sendError(long channel, long unique, int errno) {
        long header = NativeMemory.allocate(OUT_HEADER_BYTES + IOV_BYTES);
        try {
            MEMORY.putInt(header + OUT_LEN, OUT_HEADER_BYTES);
            MEMORY.putInt(header + OUT_ERROR, -errno);
            MEMORY.putLong(header + OUT_UNIQUE, unique);
            long iov = header + OUT_HEADER_BYTES;
            MEMORY.putAddress(iov, header);
            MEMORY.putLong(iov + 8, OUT_HEADER_BYTES);
            return (int) INVOKER.invokeL3(I_PPL, channelSend, channel, iov, 1);
        } finally {
            NativeMemory.free(header);
        }
    }

    /**
     * Tells the kernel to drop what it caches of the file of node id {@code node}: its attributes and
     * every page of it in the page cache (unmapped from every mapping first). The kernel does this
     * while the call waits, so a page being read in (locked, waiting for a READ answer) holds it up
     * until that READ is answered: never call this while a READ of the same file may be waiting on
     * something the caller holds.
     *
     * @return 0, or a negative errno ({@code -ENOENT} if the kernel no longer has that node)
     */
    public int invalidateInode(long channel, long node) {
        return (int) INVOKER.invokeL4(I_PLLL, invalInode, channel, node, 0, 0);
    }

    /**
     * Tells the kernel to drop the attributes it caches of node id {@code node} (owner, group, mode,
     * size), and nothing else: with {@code default_permissions} its next permission check asks again.
     *
     * @return 0, or a negative errno ({@code -ENOENT} if the kernel does not have that node)
     */
    public int invalidateAttributes(long channel, long node) {
        // A negative offset: attributes only, no page (the kernel's fuse_reverse_inval_inode).
        return (int) INVOKER.invokeL4(I_PLLL, invalInode, channel, node, -1, 0);
    }

    /**
     * Tells the kernel to forget the name {@code name} in directory {@code parent}: its next use is
     * looked up again. The kernel takes the directory's lock for this, so never call it while a
     * request that holds that lock (an unlink, a lookup) waits for an answer this thread would give.
     * Forgetting a name also detaches whatever is mounted on it (d_invalidate).
     *
     * @return 0, or a negative errno ({@code -ENOENT} if the kernel does not have that name)
     */
    public int invalidateEntry(long channel, long parent, String name) {
        byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
        long cName = NativeMemory.cString(name);
        try {
            return (int) INVOKER.invokeL4(I_PLPL, invalEntry, channel, parent, cName, utf8.length);
        } finally {
            NativeMemory.free(cName);
        }
    }

    // Replies: each returns 0 or a negative errno (the kernel refused it, the caller gave up).

    public int replyError(long req, int errno) {
        return (int) INVOKER.invokeL2(I_PI, replyErr, req, errno);
    }

    /** For a request that takes no reply (forget); frees it. */
    public void replyNone(long req) {
        INVOKER.invokeL1(V_P, replyNone, req);
    }

    /** A lookup's answer: node {@code node} with the attributes of {@code attr}, cached for {@code timeout} s. */
    public int replyEntry(long req, long node, Attributes attr, double timeout) {
        long entry = Scratch.entry();
        MEMORY.setMemory(entry, ENTRY_BYTES, (byte) 0);
        MEMORY.putLong(entry + ENTRY_INO, node);
        attr.writeTo(entry + ENTRY_ATTR, node);
        MEMORY.putDouble(entry + ENTRY_ATTR_TIMEOUT, timeout);
        MEMORY.putDouble(entry + ENTRY_ENTRY_TIMEOUT, timeout);
        return (int) INVOKER.invokeL2(I_PP, replyEntry, req, entry);
    }

    /** A getattr's answer. */
    public int replyAttr(long req, long node, Attributes attr, double timeout) {
        long stat = Scratch.entry();
        MEMORY.setMemory(stat, STAT_BYTES, (byte) 0);
        attr.writeTo(stat, node);
        HeapInvocationBuffer call = new HeapInvocationBuffer(I_PPD);
        call.putAddress(req);
        call.putAddress(stat);
        call.putDouble(timeout);
        return INVOKER.invokeInt(I_PPD, replyAttr, call);
    }

    /** An open's answer: the file handle {@code fh}, and whether reads of it bypass the page cache. */
    public int replyOpen(long req, long fi, long fh, boolean directIo) {
        MEMORY.putLong(fi + FI_FH, fh);
        int bits = MEMORY.getInt(fi + FI_BITS);
        MEMORY.putInt(fi + FI_BITS, directIo ? bits | FI_DIRECT_IO : bits & ~FI_DIRECT_IO);
        return (int) INVOKER.invokeL2(I_PP, replyOpen, req, fi);
    }

    /** A readlink's answer: the link's target {@code target} (a path, never a secret). */
    public int replyReadlink(long req, String target) {
        return (int) INVOKER.invokeL2(I_PP, replyReadlink, req, Scratch.name(target));
    }

    /** Answers with {@code size} bytes at {@code address}, which libfuse writes to the kernel before returning. */
    public int replyBuffer(long req, long address, long size) {
        return (int) INVOKER.invokeL3(I_PPL, replyBuf, req, address, size);
    }

    /** A statfs's answer. */
    public int replyStatfs(long req, long blockSize, long blocks, long files, long nameMax) {
        long sv = Scratch.entry();
        MEMORY.setMemory(sv, STATVFS_BYTES, (byte) 0);
        MEMORY.putLong(sv + SV_BSIZE, blockSize);
        MEMORY.putLong(sv + SV_FRSIZE, blockSize);
        MEMORY.putLong(sv + SV_BLOCKS, blocks);
        MEMORY.putLong(sv + SV_FILES, files);
        MEMORY.putLong(sv + SV_NAMEMAX, nameMax);
        return (int) INVOKER.invokeL2(I_PP, replyStatfs, req, sv);
    }

    /**
     * Adds a directory entry to the readdir reply being built at {@code buf}, which has {@code room}
     * bytes left: the bytes the entry takes, which is more than {@code room} if it did not fit (and
     * nothing was written).
     */
    public long addDirectoryEntry(long req, long buf, long room, String name, long node, int mode, long nextOffset) {
        long stat = Scratch.entry();
        MEMORY.setMemory(stat, STAT_BYTES, (byte) 0);
        MEMORY.putLong(stat + ST_INO, node);
        MEMORY.putInt(stat + ST_MODE, mode);
        long cName = Scratch.name(name);
        return INVOKER.invokeL6(L_PPLPPL, addDirentry, req, buf, room, cName, stat, nextOffset);
    }

    /** The uid of the process that made the request. */
    public long callerUid(long req) {
        return Integer.toUnsignedLong(MEMORY.getInt(INVOKER.invokeL1(P_P, requestContext, req) + CTX_UID));
    }

    /** The thread id of the caller that made the request (0 for requests the kernel makes itself). */
    public int callerPid(long req) {
        return MEMORY.getInt(INVOKER.invokeL1(P_P, requestContext, req) + CTX_PID);
    }

    // Reading what libfuse passes to callbacks.

    /** open(2)'s flags of a {@code struct fuse_file_info}. */
    public static int openFlags(long fi) {
        return MEMORY.getInt(fi + FI_FLAGS);
    }

    /** The file handle of a {@code struct fuse_file_info}. */
    public static long fileHandle(long fi) {
        return MEMORY.getLong(fi + FI_FH);
    }

    /**
     * Length in bytes of the NUL-terminated name at {@code name}, looking at most {@code max + 1}
     * bytes: {@code max + 1} means longer than {@code max}.
     */
    public static int nameLength(long name, int max) {
        long nul = MEMORY.indexOf(name, (byte) 0, max + 1);
        return nul < 0 ? max + 1 : (int) nul;
    }

    /** The name at {@code name} of {@code length} bytes as a string (a file name, never a secret). */
    public static String name(long name, int length) {
        return new String(NativeMemory.get(name, length), StandardCharsets.UTF_8);
    }

    /** The attributes of a file or directory, as a getattr or lookup reports them. */
    public record Attributes(int mode, long links, long uid, long gid, long size, long time) {
        void writeTo(long stat, long node) {
            MEMORY.putLong(stat + ST_INO, node);
            MEMORY.putLong(stat + ST_NLINK, links);
            MEMORY.putInt(stat + ST_MODE, mode);
            MEMORY.putInt(stat + ST_UID, (int) uid);
            MEMORY.putInt(stat + ST_GID, (int) gid);
            MEMORY.putLong(stat + ST_SIZE, size);
            MEMORY.putLong(stat + ST_BLKSIZE, 4096);
            MEMORY.putLong(stat + ST_BLOCKS, (size + 511) / 512);
            MEMORY.putLong(stat + ST_ATIME, time);
            MEMORY.putLong(stat + ST_MTIME, time);
            MEMORY.putLong(stat + ST_CTIME, time);
        }
    }

    /**
     * The {@code struct fuse_args} of a command line, in native memory: argv[0] and the given
     * arguments. Close it once libfuse is done with it.
     */
    public static final class Args implements AutoCloseable {
        private final long[] strings;
        private final long argv;
        private final long args;

        public Args(String name, java.util.List<String> arguments) {
            strings = new long[arguments.size() + 1];
            argv = NativeMemory.allocate((long) (strings.length + 1) * Long.BYTES);
            args = NativeMemory.allocate(ARGS_BYTES);
            for (int i = 0; i < strings.length; i++) {
                strings[i] = NativeMemory.cString(i == 0 ? name : arguments.get(i - 1));
                MEMORY.putAddress(argv + (long) i * Long.BYTES, strings[i]);
            }
            MEMORY.putInt(args + ARGS_ARGC, strings.length);
            MEMORY.putAddress(args + ARGS_ARGV, argv);
        }

        public long address() {
            return args;
        }

        @Override
        public void close() {
            // What libfuse allocated while parsing; ours (allocated == 0) stays and is freed here.
            INVOKER.invokeL1(V_P, get().freeArgs, args);
            for (long string : strings) {
                NativeMemory.free(string);
            }
            NativeMemory.free(argv);
            NativeMemory.free(args);
        }
    }

    /**
     * Per-thread scratch memory for the structs of one reply (callbacks run one at a time per thread);
     * it holds no secret, so it is {@link NativeMemory#scratch}, freed with its thread's buffer.
     */
    private static final class Scratch {
        private static final int NAME_BYTES = 1024;
        private static final ThreadLocal<NativeMemory.Scratch> MEMORY_OF_THREAD = ThreadLocal.withInitial(
                () -> NativeMemory.scratch((int) ENTRY_BYTES + NAME_BYTES));

        static long entry() {
            return MEMORY_OF_THREAD.get().address();
        }

        static long name(String name) {
            byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
            if (utf8.length >= NAME_BYTES) {
                throw new IllegalArgumentException("name of " + utf8.length + " bytes");
            }
            long at = entry() + ENTRY_BYTES;
            MEMORY.putZeroTerminatedByteArray(at, utf8, 0, utf8.length);
            return at;
        }
    }
}
