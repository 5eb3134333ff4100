// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.Type;

/**
 * The C library calls the daemon makes, bound through jffi by symbol address: {@link Native#libc()}
 * is the one instance. jffi calls a function through libffi with no code generated at run time,
 * where jnr-ffi's {@code LibraryLoader} generates a class per interface (about 90 ms of every start,
 * issue 12), and its classes can live in the start-up archive.
 *
 * <p>Every call saves errno on the calling thread as it returns, which {@link Native#errno()} reads.
 * Pointers are native addresses ({@code long}); strings are copied to native C strings for the
 * call and freed after it. Arrays ({@link #setrlimit}, {@link #statfs}) are copied through native
 * memory too: none of them ever holds a secret.
 *
 * <p>The constants and struct layouts are Linux x86-64's (the package is built for amd64 only).
 */
public final class LibC {
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_NOCTTY = 0400;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DIRECTORY = 0200000;
    public static final int O_CLOEXEC = 02000000;
    public static final int SEEK_END = 2;
    public static final int MNT_DETACH = 2;
    public static final int LOCK_EX = 2;
    public static final int LOCK_NB = 4;
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int EBADF = 9;
    public static final int EWOULDBLOCK = 11;
    public static final int EAGAIN = 11;
    public static final int EACCES = 13;
    public static final int ENOTDIR = 20;
    public static final int EINVAL = 22;
    public static final int EMFILE = 24;
    public static final int ENOTCONN = 107;
    public static final int ERANGE = 34;
    /** sizeof(struct passwd) and the offset of pw_uid, on x86-64. */
    public static final int PASSWD_BYTES = 48;
    public static final int PASSWD_UID = 16;
    /** sizeof(struct group) and the offset of gr_gid, on x86-64. */
    public static final int GROUP_BYTES = 32;
    public static final int GROUP_GID = 16;
    public static final int F_GETFD = 1;
    public static final int F_SETFD = 2;
    public static final int FD_CLOEXEC = 1;
    public static final int F_ADD_SEALS = 1033;
    public static final int F_GET_SEALS = 1034;
    public static final int F_SEAL_SEAL = 1;
    public static final int F_SEAL_SHRINK = 2;
    public static final int F_SEAL_GROW = 4;
    public static final int F_SEAL_WRITE = 8;
    public static final int MFD_CLOEXEC = 1;
    public static final int MFD_ALLOW_SEALING = 2;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 1;
    /** What mmap returns on failure, {@code (void *) -1}. */
    public static final long MAP_FAILED = -1;
    public static final int AF_UNIX = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_CLOEXEC = 02000000;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int SOL_SOCKET = 1;
    public static final int SCM_RIGHTS = 1;
    /** sizeof(struct stat) on x86-64. */
    public static final int STAT_BYTES = 144;

    private static final Invoker INVOKER = Invoker.getInstance();

    private static final Type INT = Type.SINT;
    private static final Type PTR = Type.POINTER;
    /** size_t, ssize_t and off_t: the width of a native long on Linux. */
    private static final Type SIZE = Type.ULONG;
    private static final Type SSIZE = Type.SLONG;

    private static final CallContext I_V = context(INT);
    private static final CallContext I_I = context(INT, INT);
    private static final CallContext I_II = context(INT, INT, INT);
    private static final CallContext I_III = context(INT, INT, INT, INT);
    private static final CallContext I_IP = context(INT, INT, PTR);
    private static final CallContext I_PI = context(INT, PTR, INT);
    private static final CallContext I_PII = context(INT, PTR, INT, INT);
    private static final CallContext I_PP = context(INT, PTR, PTR);
    private static final CallContext I_IIP = context(INT, INT, INT, PTR);
    private static final CallContext I_PS = context(INT, PTR, SIZE);
    private static final CallContext I_ILLLL = context(INT, INT, Type.ULONG, Type.ULONG, Type.ULONG, Type.ULONG);
    private static final CallContext L_IPS = context(SSIZE, INT, PTR, SIZE);
    private static final CallContext L_IPI = context(SSIZE, INT, PTR, INT);
    private static final CallContext L_IPSL = context(SSIZE, INT, PTR, SIZE, SSIZE);
    private static final CallContext L_IPIL = context(SSIZE, INT, PTR, INT, SSIZE);
    private static final CallContext L_IPSIPI = context(SSIZE, INT, PTR, SIZE, INT, PTR, INT);
    private static final CallContext L_ILI = context(SSIZE, INT, SSIZE, INT);
    private static final CallContext I_IL = context(INT, INT, SSIZE);
    private static final CallContext P_S = context(PTR, SIZE);
    private static final CallContext P_I = context(PTR, INT);
    private static final CallContext P_PSIIIL = context(PTR, PTR, SIZE, INT, INT, INT, SSIZE);
    private static final CallContext V_P = context(Type.VOID, PTR);
    private static final CallContext P_IP = context(PTR, INT, PTR);
    private static final CallContext I_PPPSP = context(INT, PTR, PTR, PTR, SIZE, PTR);

    private final long open;
    private final long close;
    private final long flock;
    private final long read;
    private final long write;
    private final long writev;
    private final long pread;
    private final long preadv;
    private final long pwrite;
    private final long fdatasync;
    private final long ftruncate;
    private final long malloc;
    private final long free;
    private final long lseek;
    private final long prctl;
    private final long mallopt;
    private final long setrlimit;
    private final long statfs;
    private final long fstat;
    /** glibc before 2.33 exports no fstat, only {@code __fxstat(version, fd, buf)}: 0 when fstat exists. */
    private final long fxstat;
    private final long fcntl;
    private final long umount2;
    private final long socket;
    private final long sendto;
    private final long sendmsg;
    private final long memfdCreate;
    private final long mmap;
    private final long munmap;
    private final long getpid;
    private final long geteuid;
    private final long getuid;
    private final long getgid;
    private final long strerror;
    private final long getpwnamR;
    private final long getgrnamR;
    private final long signal;

    private LibC(Library c) {
        open = symbol(c, "open");
        close = symbol(c, "close");
        flock = symbol(c, "flock");
        read = symbol(c, "read");
        write = symbol(c, "write");
        writev = symbol(c, "writev");
        pread = symbol(c, "pread");
        preadv = symbol(c, "preadv");
        pwrite = symbol(c, "pwrite");
        fdatasync = symbol(c, "fdatasync");
        ftruncate = symbol(c, "ftruncate");
        malloc = symbol(c, "malloc");
        free = symbol(c, "free");
        lseek = symbol(c, "lseek");
        prctl = symbol(c, "prctl");
        mallopt = symbol(c, "mallopt");
        setrlimit = symbol(c, "setrlimit");
        statfs = symbol(c, "statfs");
        fstat = c.getSymbolAddress("fstat");
        fxstat = fstat != 0 ? 0 : symbol(c, "__fxstat");
        fcntl = symbol(c, "fcntl");
        umount2 = symbol(c, "umount2");
        socket = symbol(c, "socket");
        sendto = symbol(c, "sendto");
        sendmsg = symbol(c, "sendmsg");
        memfdCreate = symbol(c, "memfd_create");
        mmap = symbol(c, "mmap");
        munmap = symbol(c, "munmap");
        getpid = symbol(c, "getpid");
        geteuid = symbol(c, "geteuid");
        getuid = symbol(c, "getuid");
        getgid = symbol(c, "getgid");
        strerror = symbol(c, "strerror");
        getpwnamR = symbol(c, "getpwnam_r");
        getgrnamR = symbol(c, "getgrnam_r");
        signal = symbol(c, "signal");
    }

    /**
     * Binds the C library the JVM runs on.
     *
     * @throws UnsatisfiedLinkError if a function is missing
     */
    static LibC load() {
        return new LibC(Library.getDefault());
    }

    private static long symbol(Library c, String name) {
        long address = c.getSymbolAddress(name);
        if (address == 0) {
            throw new UnsatisfiedLinkError("the C library has no " + name);
        }
        return address;
    }

    private static CallContext context(Type result, Type... parameters) {
        return new CallContext(result, parameters, CallingConvention.DEFAULT, true);
    }

    private static long string(String s) {
        return NativeMemory.cString(s);
    }

    public int open(String path, int flags) {
        return open(path, flags, 0);
    }

    /** open(2) with a mode, for {@link #O_CREAT}. */
    public int open(String path, int flags, int mode) {
        long p = string(path);
        try {
            return (int) INVOKER.invokeL3(I_PII, open, p, flags, mode);
        } finally {
            NativeMemory.free(p);
        }
    }

    public int close(int fd) {
        return (int) INVOKER.invokeL1(I_I, close, fd);
    }

    /** An advisory whole-file lock on an open file description; released when its last descriptor closes. */
    public int flock(int fd, int operation) {
        return (int) INVOKER.invokeL2(I_II, flock, fd, operation);
    }

    /** read(2) into native memory. */
    public long read(int fd, long buf, long count) {
        return INVOKER.invokeL3(L_IPS, read, fd, buf, count);
    }

    /** write(2) from native memory: how a FUSE reply goes to /dev/fuse. */
    public long write(int fd, long buf, long count) {
        return INVOKER.invokeL3(L_IPS, write, fd, buf, count);
    }

    /** writev(2) of a {@code struct iovec} array in native memory. */
    public long writev(int fd, long iov, int iovcnt) {
        return INVOKER.invokeL3(L_IPI, writev, fd, iov, iovcnt);
    }

    /** Reads straight into native memory: the path secrets take. */
    public long pread(int fd, long buf, long count, long offset) {
        return INVOKER.invokeL4(L_IPSL, pread, fd, buf, count, offset);
    }

    /** Reads into the buffers of a {@code struct iovec} array in native memory, in one call. */
    public long preadv(int fd, long iov, int iovcnt, long offset) {
        return INVOKER.invokeL4(L_IPIL, preadv, fd, iov, iovcnt, offset);
    }

    /** pwrite(2) from native memory. */
    public long pwrite(int fd, long buf, long count, long offset) {
        return INVOKER.invokeL4(L_IPSL, pwrite, fd, buf, count, offset);
    }

    public int fdatasync(int fd) {
        return (int) INVOKER.invokeL1(I_I, fdatasync, fd);
    }

    public int ftruncate(int fd, long length) {
        return (int) INVOKER.invokeL2(I_IL, ftruncate, fd, length);
    }

    /** glibc malloc: native memory that is not the daemon's own scratch. */
    public long malloc(long size) {
        return INVOKER.invokeL1(P_S, malloc, size);
    }

    public void free(long ptr) {
        INVOKER.invokeL1(V_P, free, ptr);
    }

    public long lseek(int fd, long offset, int whence) {
        return INVOKER.invokeL3(L_ILI, lseek, fd, offset, whence);
    }

    public int prctl(int option, long arg2, long arg3, long arg4, long arg5) {
        return (int) INVOKER.invokeL5(I_ILLLL, prctl, option, arg2, arg3, arg4, arg5);
    }

    public int mallopt(int param, int value) {
        return (int) INVOKER.invokeL2(I_II, mallopt, param, value);
    }

    /** setrlimit with {@code rlimit} = {soft, hard}. */
    public int setrlimit(int resource, long[] rlimit) {
        long limits = NativeMemory.allocate(2L * Long.BYTES);
        try {
            NativeMemory.putLong(limits, rlimit[0]);
            NativeMemory.putLong(limits + Long.BYTES, rlimit[1]);
            return (int) INVOKER.invokeL2(I_IP, setrlimit, resource, limits);
        } finally {
            NativeMemory.free(limits);
        }
    }

    /**
     * statfs(2), the {@code struct statfs} (120 bytes on x86-64) copied into {@code buf}; callers here
     * want only the call's errno, or the wake-up of a FUSE worker that the call causes.
     */
    public int statfs(String path, byte[] buf) {
        long p = string(path);
        long out = NativeMemory.allocate(Math.max(buf.length, 120));
        try {
            int result = (int) INVOKER.invokeL2(I_PP, statfs, p, out);
            NativeMemory.get(out, buf, 0, buf.length);
            return result;
        } finally {
            NativeMemory.free(out);
            NativeMemory.free(p);
        }
    }

    /** fstat(2) into a {@code struct stat} of {@link #STAT_BYTES} in native memory. */
    public int fstat(int fd, long statbuf) {
        if (fstat != 0) {
            return (int) INVOKER.invokeL2(I_IP, fstat, fd, statbuf);
        }
        return (int) INVOKER.invokeL3(I_IIP, fxstat, 1 /* _STAT_VER on x86-64 */, fd, statbuf);
    }

    /** fcntl(2) with an int argument (or none: pass 0). */
    public int fcntl(int fd, int cmd, int arg) {
        return (int) INVOKER.invokeL3(I_III, fcntl, fd, cmd, arg);
    }

    public int umount2(String target, int flags) {
        long p = string(target);
        try {
            return (int) INVOKER.invokeL2(I_PI, umount2, p, flags);
        } finally {
            NativeMemory.free(p);
        }
    }

    public int socket(int domain, int type, int protocol) {
        return (int) INVOKER.invokeL3(I_III, socket, domain, type, protocol);
    }

    /** sendto(2): a buffer and a socket address, both in native memory. */
    public long sendto(int fd, long buf, long len, int flags, long addr, int addrlen) {
        return INVOKER.invokeL6(L_IPSIPI, sendto, fd, buf, len, flags, addr, addrlen);
    }

    /** sendmsg(2) of a {@code struct msghdr} in native memory. */
    public long sendmsg(int fd, long msghdr, int flags) {
        return INVOKER.invokeL3(L_IPI, sendmsg, fd, msghdr, flags);
    }

    /** memfd_create(2): an anonymous file in memory. */
    public int memfdCreate(String name, int flags) {
        long p = string(name);
        try {
            return (int) INVOKER.invokeL2(I_PI, memfdCreate, p, flags);
        } finally {
            NativeMemory.free(p);
        }
    }

    /** mmap(2): the mapping's address, or {@link #MAP_FAILED}. */
    public long mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        return INVOKER.invokeL6(P_PSIIIL, mmap, addr, length, prot, flags, fd, offset);
    }

    public int munmap(long addr, long length) {
        return (int) INVOKER.invokeL2(I_PS, munmap, addr, length);
    }

    public int getpid() {
        return (int) INVOKER.invokeL0(I_V, getpid);
    }

    public int geteuid() {
        return (int) INVOKER.invokeL0(I_V, geteuid);
    }

    public int getuid() {
        return (int) INVOKER.invokeL0(I_V, getuid);
    }

    public int getgid() {
        return (int) INVOKER.invokeL0(I_V, getgid);
    }

    /** signal(2) with SIG_DFL: the signal's default disposition back, ignored or not before. */
    public void resetSignal(int signum) {
        INVOKER.invokeL2(P_IP, signal, signum, 0);
    }

    /** getpwnam_r(3): 0 and {@code *result} set (NULL: no such user), or an error number such as ERANGE. */
    public int getpwnamR(String name, long pwd, long buf, long buflen, long result) {
        long p = string(name);
        try {
            return (int) INVOKER.invokeL5(I_PPPSP, getpwnamR, p, pwd, buf, buflen, result);
        } finally {
            NativeMemory.free(p);
        }
    }

    /** getgrnam_r(3), as {@link #getpwnamR}. */
    public int getgrnamR(String name, long grp, long buf, long buflen, long result) {
        long p = string(name);
        try {
            return (int) INVOKER.invokeL5(I_PPPSP, getgrnamR, p, grp, buf, buflen, result);
        } finally {
            NativeMemory.free(p);
        }
    }

    public String strerror(int errnum) {
        return NativeMemory.string(INVOKER.invokeL1(P_I, strerror, errnum));
    }
}
