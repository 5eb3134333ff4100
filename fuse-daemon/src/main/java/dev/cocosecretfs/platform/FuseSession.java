// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import java.nio.charset.StandardCharsets;

/**
 * The parts of libfuse2 below {@code fuse_main} that jnr-fuse does not bind: mount, set up the
 * filesystem, and take and answer requests one at a time, so that the daemon can run a loop of its
 * own instead of libfuse's.
 *
 * <p>Bound through jffi, the layer under jnr-ffi, by symbol version: libfuse2 exports
 * {@code fuse_mount}, {@code fuse_new} and {@code fuse_unmount} in several versions for old callers,
 * and a plain {@code dlsym} (all that jnr-ffi does) returns the oldest of them, whose arguments differ.
 * Each function here is looked up with {@code dlvsym} in the version whose prototype it is called
 * with. Arguments and results are native addresses: libfuse's opaque {@code struct fuse_chan *},
 * {@code struct fuse *} and {@code struct fuse_session *}, a {@code struct fuse_args *}, a
 * {@code struct fuse_buf *}.
 */
public final class FuseSession {
    private static final String LIBRARY = "libfuse.so.2";
    private static final int RTLD_NOW = 2;
    private static final Invoker INVOKER = Invoker.getInstance();
    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    private static final CallContext P_P = context(Type.POINTER, Type.POINTER);
    private static final CallContext P_PP = context(Type.POINTER, Type.POINTER, Type.POINTER);
    private static final CallContext P_PPP = context(Type.POINTER, Type.POINTER, Type.POINTER, Type.POINTER);
    private static final CallContext P_PPPLP = context(Type.POINTER, Type.POINTER, Type.POINTER, Type.POINTER,
            Type.UINT64, Type.POINTER);
    private static final CallContext L_P = context(Type.UINT64, Type.POINTER);
    private static final CallContext I_PPP = context(Type.SINT, Type.POINTER, Type.POINTER, Type.POINTER);
    private static final CallContext V_P = context(Type.VOID, Type.POINTER);
    private static final CallContext V_PP = context(Type.VOID, Type.POINTER, Type.POINTER);
    private static final CallContext V_PPP = context(Type.VOID, Type.POINTER, Type.POINTER, Type.POINTER);
    private static final CallContext I_PLLL = context(Type.SINT, Type.POINTER, Type.UINT64, Type.SINT64, Type.SINT64);

    private final long mount;
    private final long unmount;
    private final long newFuse;
    private final long destroy;
    private final long getSession;
    private final long nextChannel;
    private final long bufferSize;
    private final long receive;
    private final long process;
    private final long exit;
    private final long freeArgs;
    private final long invalInode;

    private FuseSession(long handle, long dlvsym) {
        mount = symbol(handle, dlvsym, "fuse_mount", "FUSE_2.6");
        unmount = symbol(handle, dlvsym, "fuse_unmount", "FUSE_2.6");
        newFuse = symbol(handle, dlvsym, "fuse_new", "FUSE_2.6");
        destroy = symbol(handle, dlvsym, "fuse_destroy", "FUSE_2.2");
        getSession = symbol(handle, dlvsym, "fuse_get_session", "FUSE_2.6");
        nextChannel = symbol(handle, dlvsym, "fuse_session_next_chan", "FUSE_2.4");
        bufferSize = symbol(handle, dlvsym, "fuse_chan_bufsize", "FUSE_2.4");
        receive = symbol(handle, dlvsym, "fuse_session_receive_buf", "FUSE_2.9");
        process = symbol(handle, dlvsym, "fuse_session_process_buf", "FUSE_2.9");
        exit = symbol(handle, dlvsym, "fuse_session_exit", "FUSE_2.4");
        freeArgs = symbol(handle, dlvsym, "fuse_opt_free_args", "FUSE_2.5");
        invalInode = symbol(handle, dlvsym, "fuse_lowlevel_notify_inval_inode", "FUSE_2.8");
    }

    /**
     * Binds libfuse.so.2 (the library jnr-fuse uses, already loaded by then).
     *
     * @throws UnsatisfiedLinkError if the library or one of its functions is missing
     */
    public static FuseSession load() {
        Library libc = Library.getDefault();
        long dlopen = libc.getSymbolAddress("dlopen");
        long dlvsym = libc.getSymbolAddress("dlvsym");
        if (dlopen == 0 || dlvsym == 0) {
            throw new UnsatisfiedLinkError("the C library has no dlopen or dlvsym");
        }
        long name = cString(LIBRARY);
        long handle;
        try {
            handle = INVOKER.invokeL2(context(Type.POINTER, Type.POINTER, Type.SINT), dlopen, name, RTLD_NOW);
        } finally {
            MEMORY.freeMemory(name);
        }
        if (handle == 0) {
            throw new UnsatisfiedLinkError("cannot load " + LIBRARY + ": install libfuse2");
        }
        return new FuseSession(handle, dlvsym);
    }

    private static long symbol(long handle, long dlvsym, String name, String version) {
        long cName = cString(name);
        long cVersion = cString(version);
        try {
            long address = INVOKER.invokeL3(P_PPP, dlvsym, handle, cName, cVersion);
            if (address == 0) {
                throw new UnsatisfiedLinkError(LIBRARY + " has no " + name + "@" + version);
            }
            return address;
        } finally {
            MEMORY.freeMemory(cName);
            MEMORY.freeMemory(cVersion);
        }
    }

    private static CallContext context(Type result, Type... parameters) {
        // No errno to keep: these calls report failure in their results.
        return new CallContext(result, parameters, CallingConvention.DEFAULT, false);
    }

    /**
     * A copy of {@code s} as a NUL-terminated UTF-8 string in native memory, to be freed with {@link
     * #free}.
     */
    public static long cString(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        long address = allocate(utf8.length + 1);
        MEMORY.putZeroTerminatedByteArray(address, utf8, 0, utf8.length);
        return address;
    }

    /** Zeroed native memory, to be freed with {@link #free}. */
    public static long allocate(long size) {
        long address = MEMORY.allocateMemory(size, true);
        if (address == 0) {
            throw new OutOfMemoryError("cannot allocate " + size + " bytes of native memory");
        }
        return address;
    }

    /** Frees memory of {@link #allocate} or {@link #cString}; 0 is ignored. */
    public static void free(long address) {
        if (address != 0) {
            MEMORY.freeMemory(address);
        }
    }

    /** Mounts at {@code mountPoint} with the mount options in {@code args}: a channel, or 0 (libfuse says why). */
    public long mount(String mountPoint, long args) {
        long where = cString(mountPoint);
        try {
            return INVOKER.invokeL2(P_PP, mount, where, args);
        } finally {
            free(where);
        }
    }

    /** Unmounts, unless the kernel already has, and closes the channel. */
    public void unmount(String mountPoint, long channel) {
        long where = cString(mountPoint);
        try {
            INVOKER.invokeL2(V_PP, unmount, where, channel);
        } finally {
            free(where);
        }
    }

    /** The filesystem of the {@code struct fuse_operations} at {@code ops} on {@code channel}: or 0. */
    public long newFuse(long channel, long args, long ops, long opsSize) {
        return INVOKER.invokeL5(P_PPPLP, newFuse, channel, args, ops, opsSize, 0);
    }

    public void destroy(long fuse) {
        INVOKER.invokeL1(V_P, destroy, fuse);
    }

    public long session(long fuse) {
        return INVOKER.invokeL1(P_P, getSession, fuse);
    }

    /** The session's first channel. */
    public long channel(long session) {
        return INVOKER.invokeL2(P_PP, nextChannel, session, 0);
    }

    /** Size of the buffer a request may need. */
    public long bufferSize(long channel) {
        return INVOKER.invokeL1(L_P, bufferSize, channel);
    }

    /**
     * Waits for the next request. Returns its size; 0 once the filesystem is unmounted; -EINTR or
     * -EAGAIN to be tried again; another negative errno on failure.
     */
    public int receive(long session, long buf, long channelSlot) {
        return (int) INVOKER.invokeL3(I_PPP, receive, session, buf, channelSlot);
    }

    /** Answers a request: runs the filesystem's callback on this thread and sends the reply. */
    public void process(long session, long buf, long channel) {
        INVOKER.invokeL3(V_PPP, process, session, buf, channel);
    }

    /** Marks the session as ended: a worker's next receive returns 0. */
    public void exit(long session) {
        INVOKER.invokeL1(V_P, exit, session);
    }

    /** Frees what libfuse allocated into a {@code struct fuse_args} while parsing it. */
    public void freeArgs(long args) {
        INVOKER.invokeL1(V_P, freeArgs, args);
    }

    /**
     * Tells the kernel to drop what it caches of the file whose node id is {@code node}: its
     * attributes and every page of it in the page cache (unmapped from every mapping first). The
     * kernel does this while the call waits, so a page being read in (locked, waiting for a READ
     * answer) holds it up until that READ is answered: never call this while a READ of the same file
     * may be waiting on something the caller holds.
     *
     * @return 0, or a negative errno ({@code -ENOENT} if the kernel no longer has that node)
     */
    public int invalidateInode(long channel, long node) {
        return (int) INVOKER.invokeL4(I_PLLL, invalInode, channel, node, 0, 0);
    }
}
