// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static com.google.common.base.Preconditions.checkNotNull;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.Closure;
import com.kenai.jffi.ClosureManager;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@code struct fuse_lowlevel_ops} in native memory whose entries call a {@link Callbacks}: jffi
 * closures, which generate no classes. Entries left NULL get libfuse's default: ENOSYS for most (the
 * kernel then stops sending flush, fsync, access, getxattr, listxattr), a plain success for opendir
 * and releasedir, nothing for forget.
 *
 * <p>Each callback returns 0 once it has replied, or an errno for this class to reply with; whatever
 * it throws is answered EIO and logged, so nothing is ever thrown into native code.
 */
public final class Operations {
    private static final System.Logger LOG = System.getLogger(Operations.class.getName());
    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    /** Entries in libfuse 2.9's {@code struct fuse_lowlevel_ops}, in their order there. */
    static final int COUNT = 41;
    static final long BYTES = COUNT * 8L;

    static final int INIT = 0;
    static final int LOOKUP = 2;
    static final int GETATTR = 4;
    static final int SETATTR = 5;
    static final int READLINK = 6;
    static final int MKNOD = 7;
    static final int MKDIR = 8;
    static final int UNLINK = 9;
    static final int RMDIR = 10;
    static final int SYMLINK = 11;
    static final int RENAME = 12;
    static final int LINK = 13;
    static final int OPEN = 14;
    static final int READ = 15;
    static final int WRITE = 16;
    static final int RELEASE = 18;
    static final int READDIR = 21;
    static final int STATFS = 24;
    static final int SETXATTR = 25;
    static final int REMOVEXATTR = 28;
    static final int CREATE = 30;
    static final int FALLOCATE = 40;

    private static final int EIO = 5;

    /** What the filesystem does with each request; {@code req} is libfuse's {@code fuse_req_t}. */
    public interface Callbacks {
        /** The kernel's INIT has been processed; {@code conn} is libfuse's {@code struct fuse_conn_info}. */
        void init(long conn);

        int lookup(long req, long parent, long name);

        int getattr(long req, long node);

        /** The target of the symbolic link of node id {@code node}. */
        int readlink(long req, long node);

        int open(long req, long node, long fi);

        int read(long req, long node, long size, long offset, long fi);

        int release(long req, long node, long fi);

        int readdir(long req, long node, long size, long offset);

        int unlink(long req, long parent, long name);

        int statfs(long req);

        /**
         * Any request that would create or change something (setattr, mknod, mkdir, rmdir, symlink,
         * rename, link, write, create, setxattr, removexattr, fallocate): the errno to refuse it with.
         */
        int refuse(long req, String operation);
    }

    private final long table;
    /** The closures must stay reachable as long as libfuse may call them: for the process's life. */
    private final List<Closure.Handle> handles = new ArrayList<>();

    private Operations(long table) {
        this.table = table;
    }

    /** Builds the table for {@code fs}; kept for the life of the process. */
    public static Operations of(Callbacks fs) {
        checkNotNull(fs, "fs");
        Operations ops = new Operations(NativeMemory.allocate(BYTES));
        Type p = Type.POINTER;
        Type u64 = Type.UINT64;
        Type s64 = Type.SINT64;
        Type i32 = Type.SINT;
        ops.set(INIT, b -> fs.init(b.getAddress(1)), p, p);
        ops.set(LOOKUP, b -> ops.answer(b, () -> fs.lookup(b.getAddress(0), b.getLong(1), b.getAddress(2))), p, u64,
                p);
        ops.set(GETATTR, b -> ops.answer(b, () -> fs.getattr(b.getAddress(0), b.getLong(1))), p, u64, p);
        ops.set(READLINK, b -> ops.answer(b, () -> fs.readlink(b.getAddress(0), b.getLong(1))), p, u64);
        ops.set(OPEN, b -> ops.answer(b, () -> fs.open(b.getAddress(0), b.getLong(1), b.getAddress(2))), p, u64, p);
        ops.set(READ, b -> ops.answer(b, () -> fs.read(b.getAddress(0), b.getLong(1), b.getLong(2), b.getLong(3),
                b.getAddress(4))), p, u64, u64, s64, p);
        ops.set(RELEASE, b -> ops.answer(b, () -> fs.release(b.getAddress(0), b.getLong(1), b.getAddress(2))), p,
                u64, p);
        ops.set(READDIR, b -> ops.answer(b, () -> fs.readdir(b.getAddress(0), b.getLong(1), b.getLong(2),
                b.getLong(3))), p, u64, u64, s64, p);
        ops.set(UNLINK, b -> ops.answer(b, () -> fs.unlink(b.getAddress(0), b.getLong(1), b.getAddress(2))), p, u64,
                p);
        ops.set(STATFS, b -> ops.answer(b, () -> fs.statfs(b.getAddress(0))), p, u64);
        ops.refuse(fs, SETATTR, "setattr", p, u64, p, i32, p);
        ops.refuse(fs, MKNOD, "mknod", p, u64, p, Type.UINT32, u64);
        ops.refuse(fs, MKDIR, "mkdir", p, u64, p, Type.UINT32);
        ops.refuse(fs, RMDIR, "rmdir", p, u64, p);
        ops.refuse(fs, SYMLINK, "symlink", p, p, u64, p);
        ops.refuse(fs, RENAME, "rename", p, u64, p, u64, p);
        ops.refuse(fs, LINK, "link", p, u64, u64, p);
        ops.refuse(fs, WRITE, "write", p, u64, p, u64, s64, p);
        ops.refuse(fs, SETXATTR, "setxattr", p, u64, p, p, u64, i32);
        ops.refuse(fs, REMOVEXATTR, "removexattr", p, u64, p);
        ops.refuse(fs, CREATE, "create", p, u64, p, Type.UINT32, p);
        ops.refuse(fs, FALLOCATE, "fallocate", p, u64, i32, s64, s64, p);
        return ops;
    }

    /** The table's address, for {@code fuse_lowlevel_new}. */
    long address() {
        return table;
    }

    private interface Call {
        int run();
    }

    private void answer(Closure.Buffer b, Call call) {
        int errno;
        try {
            errno = call.run();
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.WARNING, "a FUSE callback failed: {0}", String.valueOf(t));
            LOG.log(System.Logger.Level.DEBUG, "stack trace", t);
            errno = EIO;
        }
        if (errno != 0) {
            try {
                FuseLowLevel.get().replyError(b.getAddress(0), errno);
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.ERROR, "cannot answer a FUSE request: {0}", String.valueOf(t));
            }
        }
    }

    private void refuse(Callbacks fs, int index, String name, Type... parameters) {
        set(index, b -> answer(b, () -> fs.refuse(b.getAddress(0), name)), parameters);
    }

    private void set(int index, Closure closure, Type... parameters) {
        Closure safe = b -> {
            try {
                closure.invoke(b);
            } catch (Throwable t) { // never into native code
                LOG.log(System.Logger.Level.ERROR, "a FUSE callback failed: {0}", String.valueOf(t));
            }
        };
        Closure.Handle handle = ClosureManager.getInstance().newClosure(safe,
                new CallContext(Type.VOID, parameters));
        handles.add(handle);
        MEMORY.putAddress(table + index * 8L, handle.getAddress());
    }
}
