// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static dev.cocosecretfs.fuse.FuseStructs.BUFVEC_BUF;
import static dev.cocosecretfs.fuse.FuseStructs.BUFVEC_BYTES;
import static dev.cocosecretfs.fuse.FuseStructs.BUFVEC_COUNT;
import static dev.cocosecretfs.fuse.FuseStructs.BUFVEC_IDX;
import static dev.cocosecretfs.fuse.FuseStructs.BUFVEC_OFF;
import static dev.cocosecretfs.fuse.FuseStructs.BUF_FD;
import static dev.cocosecretfs.fuse.FuseStructs.BUF_FLAGS;
import static dev.cocosecretfs.fuse.FuseStructs.BUF_MEM;
import static dev.cocosecretfs.fuse.FuseStructs.BUF_POS;
import static dev.cocosecretfs.fuse.FuseStructs.BUF_SIZE;
import static dev.cocosecretfs.fuse.FuseStructs.FI_FH;
import static dev.cocosecretfs.fuse.FuseStructs.FI_FLAGS;
import static com.google.common.base.Preconditions.checkNotNull;

import dev.cocosecretfs.platform.ErrnoException;
import dev.cocosecretfs.platform.ReplyMemory;
import dev.cocosecretfs.secrets.Secret;
import dev.cocosecretfs.secrets.SecretDirectory;
import dev.cocosecretfs.table.SecretEntry;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.lang.reflect.Method;
import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import jnr.ffi.types.mode_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseContext;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.FuseOperations;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

/**
 * The FUSE face of a {@link SecretDirectory}: one flat directory of read-only files named by GUID.
 * Paths come in, errno values go out; the bytes and their locking belong to the directory.
 *
 * <p>Only getattr, readdir, open, read, release, unlink and statfs do anything. Each open gets a file
 * handle of its own ({@link OpenSecret}), freed at release, which knows whether that open has returned
 * any of the secret: a reader that had part of a secret when it was wiped gets {@code EIO}, never a
 * clean end of file after a prefix. Every operation that would create or change a secret answers
 * {@code EPERM}: the area can be erased, never forged.
 * Each callback catches everything and maps it to an errno; nothing is thrown into native code.
 */
public final class SecretFs extends FuseStubFS {
    private static final System.Logger LOG = System.getLogger(SecretFs.class.getName());

    /** Name of the filesystem, seen as {@code fuse.coco-secretfs} in /proc/self/mountinfo. */
    public static final String FS_NAME = "coco-secretfs";

    private static final int S_IFDIR = 0040000;
    private static final int S_IFREG = 0100000;
    private static final int O_ACCMODE = 03;
    private static final int O_TRUNC = 01000;
    private static final int NAME_MAX = 255;

    private final SecretDirectory directory;
    private final Ownership ownership;
    private final long mountTime = Instant.now().getEpochSecond();
    private final CountDownLatch initialized = new CountDownLatch(1);
    /** Every open not yet released, by file handle. */
    private final Map<Long, OpenSecret> opens = new ConcurrentHashMap<>();
    private final AtomicLong nextHandle = new AtomicLong(1);
    /**
     * The kernel's node id of each secret at its latest open, until its wipe. Pages of a secret reach
     * the page cache only through an open, and libfuse gives a name a new node id only after the
     * kernel has forgotten the old one (and its pages), so this is the one node that may still have
     * pages cached once every descriptor is closed (an O_PATH descriptor, say, keeps the inode).
     */
    private final Map<String, Long> lastNode = new ConcurrentHashMap<>();

    public SecretFs(SecretDirectory directory, Ownership ownership) {
        this.directory = checkNotNull(directory, "directory");
        this.ownership = checkNotNull(ownership, "ownership");
        // flag_nullpath_ok and flag_nopath, bits 0 and 1 of a C bitfield that jnr-fuse maps as bytes:
        // read and release find the open by handle, so libfuse need not build a path for them, and
        // a file unlinked while open (hard_remove) still reaches read, which answers 0 bytes or EIO.
        Struct.getMemory(fuseOperations).putByte(flagsOffset(fuseOperations), (byte) 0b11);
        // open and read are the calls into Java of every read of a secret. Bound here rather than
        // through jnr-fuse's methods, they take libfuse's struct fuse_file_info as a bare pointer
        // instead of a jnr-ffi Struct built for each call.
        fuseOperations.open.set(this::openFile);
        fuseOperations.read_buf.set(this::readFile);
        fuseOperations.release.set(this::releaseFile);
    }

    /** Offset of the flags word; jnr-ffi keeps Member.offset() in a class we cannot name. */
    private static long flagsOffset(FuseOperations ops) {
        try {
            Object flags = FuseOperations.class.getField("flag_nullpath_ok").get(ops);
            Method offset = flags.getClass().getMethod("offset");
            offset.setAccessible(true);
            return (Long) offset.invoke(flags);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot locate fuse_operations flags in jnr-fuse", e);
        }
    }

    /** Counted down when the kernel's INIT request has been answered: the mount is live. */
    public CountDownLatch initialized() {
        return initialized;
    }

    /** The {@code struct fuse_operations} that libfuse calls; jnr-fuse fills it in. */
    Struct operations() {
        return fuseOperations;
    }

    @Override
    public Pointer init(Pointer conn) {
        initialized.countDown();
        return null;
    }

    @Override
    public int getattr(String path, FileStat stat) {
        try {
            if ("/".equals(path)) {
                fill(stat, S_IFDIR | ownership.directoryMode(), 0, 2);
                return 0;
            }
            Optional<Secret> secret = lookup(path);
            if (secret.isEmpty()) {
                // The kernel passes names of up to 1,024 bytes; statfs says 255 is the most there can be.
                String name = name(path);
                return name != null && nameBytes(name) > NAME_MAX ? -ErrorCodes.ENAMETOOLONG()
                        : -ErrorCodes.ENOENT();
            }
            fill(stat, S_IFREG | ownership.fileMode(), secret.get().length(), 1);
            return 0;
        } catch (Throwable t) {
            return errno("getattr", path, t);
        }
    }

    private void fill(FileStat stat, int mode, long size, int links) {
        stat.st_mode.set(mode);
        stat.st_size.set(size);
        stat.st_nlink.set(links);
        stat.st_uid.set(ownership.uid());
        stat.st_gid.set(ownership.gid());
        stat.st_blksize.set(4096);
        stat.st_blocks.set((size + 511) / 512);
        stat.st_atim.tv_sec.set(mountTime);
        stat.st_mtim.tv_sec.set(mountTime);
        stat.st_ctim.tv_sec.set(mountTime);
    }

    /**
     * readdir in libfuse's offset mode: each call fills one reply from where the last one ended, and
     * the offset of an entry is its position in the directory's listing plus 3 (1 and 2 are {@code .}
     * and {@code ..}). Nothing is copied or sorted per call, and a secret wiped between two calls
     * neither moves the others nor repeats one.
     */
    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filler, @off_t long offset, FuseFileInfo fi) {
        try {
            // With flag_nopath libfuse passes no path: the root is the only directory there is.
            if (path != null && !"/".equals(path)) {
                return lookup(path).isPresent() ? -ErrorCodes.ENOTDIR() : -ErrorCodes.ENOENT();
            }
            if (offset < 1 && filler.apply(buf, ".", null, 1) != 0) {
                return 0;
            }
            if (offset < 2 && filler.apply(buf, "..", null, 2) != 0) {
                return 0;
            }
            int size = directory.listingSize();
            for (long k = Math.max(offset, 2) - 2; k < size; k++) {
                String name = directory.listed((int) k);
                if (name != null && filler.apply(buf, name, null, k + 3) != 0) {
                    break;
                }
            }
            return 0;
        } catch (OutOfMemoryError e) {
            return -ErrorCodes.ENOMEM();
        } catch (Throwable t) {
            return errno("readdir", path, t);
        }
    }

    /**
     * open: refuses anything but read-only; gives the open a file handle of its own, which records the
     * kernel's node id of the file (for {@link #unlink} to drop its cached pages).
     */
    private int openFile(String path, Pointer fi) {
        try {
            Optional<Secret> secret = lookup(path);
            if (secret.isEmpty()) {
                return -ErrorCodes.ENOENT();
            }
            int flags = fi.getInt(FI_FLAGS);
            if ((flags & O_ACCMODE) != 0 || (flags & O_TRUNC) != 0) {
                return -ErrorCodes.EPERM();
            }
            long handle = nextHandle.getAndIncrement();
            long node = FuseLoop.currentNode();
            opens.put(handle, new OpenSecret(secret.get(), node));
            if (node != 0) {
                lastNode.put(secret.get().name(), node);
            }
            fi.putLong(FI_FH, handle);
            return 0;
        } catch (Throwable t) {
            return errno("open", path, t);
        }
    }

    /**
     * read_buf: answers with a buffer of our own instead of the one libfuse would malloc for {@code
     * read}: libfuse frees either kind after replying, without clearing it, and only a buffer sized by
     * {@link ReplyMemory} is then overwritten in full by glibc. Sets {@code *bufp} only on success;
     * libfuse frees what it points to.
     *
     * <p>Once the secret is wiped, an open that has returned none of it reads 0 bytes (an empty
     * file), and so does one that has returned all of it; an open that has returned part of it gets
     * {@code EIO}: all of the secret or none of it, over any number of reads.
     */
    private int readFile(String path, Pointer bufp, long size, long offset, Pointer fi) {
        long vectorAddress = 0;
        long data = 0;
        try {
            OpenSecret open = opens.get(fi.getLong(FI_FH));
            if (open == null) {
                return -ErrorCodes.EBADF();
            }
            Secret secret = open.secret();
            if (offset < 0) {
                return -ErrorCodes.EINVAL();
            }
            long wanted = offset >= secret.length() ? 0 : Math.min(size, secret.length() - offset);
            if (wanted == 0 && size > 0 && open.torn() && !isLive(secret)) {
                return -ErrorCodes.EIO();
            }
            vectorAddress = ReplyMemory.allocateVector(BUFVEC_BYTES);
            data = ReplyMemory.allocate(wanted);
            int n = directory.read(secret, offset, wanted, data);
            if (n == 0 && wanted > 0 && open.torn()) {
                // Nothing where a live secret has bytes: it was wiped, after this open had some of it.
                ReplyMemory.free(data);
                ReplyMemory.free(vectorAddress);
                return -ErrorCodes.EIO();
            }
            Pointer vector = Pointer.wrap(bufp.getRuntime(), vectorAddress);
            open.returned(offset, n);
            vector.putLong(BUFVEC_COUNT, 1);
            vector.putLong(BUFVEC_IDX, 0);
            vector.putLong(BUFVEC_OFF, 0);
            vector.putLong(BUFVEC_BUF + BUF_SIZE, n);
            vector.putInt(BUFVEC_BUF + BUF_FLAGS, 0);
            vector.putAddress(BUFVEC_BUF + BUF_MEM, data);
            vector.putInt(BUFVEC_BUF + BUF_FD, -1);
            vector.putLong(BUFVEC_BUF + BUF_POS, 0);
            bufp.putAddress(0, vector.address());
            return n;
        } catch (Throwable t) {
            ReplyMemory.free(data);
            ReplyMemory.free(vectorAddress);
            return errno("read", path, t);
        }
    }

    /** release: the open's handle goes; libfuse calls it once per open, after the last close. */
    private int releaseFile(String path, Pointer fi) {
        opens.remove(fi.getLong(FI_FH));
        return 0;
    }

    private boolean isLive(Secret secret) {
        return directory.lookup(secret.name()).filter(secret::equals).isPresent();
    }

    @Override
    public int unlink(String path) {
        try {
            String name = name(path);
            if (name == null) {
                return -ErrorCodes.ENOENT();
            }
            SecretEntry entry = directory.wipe(name);
            dropCachedPages(name);
            FuseContext caller = getContext();
            LOG.log(System.Logger.Level.INFO, "wiped secret {0} ({1} bytes at offset {2}) for pid {3} uid {4}",
                    name, String.valueOf(entry.dataLength()), String.valueOf(entry.dataOffset()),
                    String.valueOf(caller.pid.get()), String.valueOf(caller.uid.get()));
            return 0;
        } catch (Throwable t) {
            return errno("unlink", path, t);
        }
    }

    /**
     * Drops every page of the wiped secret that the kernel caches. direct_io keeps reads out of the
     * page cache, but not a private mapping (mmap with MAP_PRIVATE), whose pages would stay there
     * while the mapping lives. Called once the wipe has released the secret's lock: the kernel waits
     * for a page being read in, whose READ would otherwise wait for that lock.
     */
    private void dropCachedPages(String name) {
        try {
            Set<Long> nodes = new HashSet<>();
            Long last = lastNode.remove(name);
            if (last != null) {
                nodes.add(last);
            }
            for (OpenSecret open : opens.values()) {
                if (open.secret().name().equals(name) && open.node() != 0) {
                    nodes.add(open.node());
                }
            }
            for (long node : nodes) {
                int res = FuseLoop.invalidate(node);
                if (res < 0 && res != -ErrorCodes.ENOENT()) {
                    LOG.log(System.Logger.Level.WARNING, "dropping the cached pages of wiped secret {0} failed"
                            + " (errno {1})", name, String.valueOf(-res));
                }
            }
        } catch (Throwable t) { // the wipe happened: the unlink must not be answered as failed
            LOG.log(System.Logger.Level.WARNING, "dropping the cached pages of wiped secret {0} failed: {1}", name,
                    String.valueOf(t));
        }
    }

    @Override
    public int statfs(String path, Statvfs stbuf) {
        try {
            stbuf.f_bsize.set(4096);
            stbuf.f_frsize.set(4096);
            stbuf.f_blocks.set((directory.table().tableLength() + 4095) / 4096);
            stbuf.f_bfree.set(0);
            stbuf.f_bavail.set(0);
            stbuf.f_files.set(directory.size());
            stbuf.f_ffree.set(0);
            stbuf.f_favail.set(0);
            stbuf.f_namemax.set(NAME_MAX);
            return 0;
        } catch (Throwable t) {
            return errno("statfs", path, t);
        }
    }

    // Everything below would create or change a secret: refused with EPERM, the mount stays up.

    @Override
    public int write(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int create(String path, @mode_t long mode, FuseFileInfo fi) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int mknod(String path, @mode_t long mode, long rdev) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int mkdir(String path, @mode_t long mode) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int rmdir(String path) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int rename(String oldpath, String newpath) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int link(String oldpath, String newpath) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int symlink(String oldpath, String newpath) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int chmod(String path, @mode_t long mode) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int chown(String path, long uid, long gid) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int truncate(String path, @off_t long size) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int ftruncate(String path, @off_t long size, FuseFileInfo fi) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int utimens(String path, Timespec[] timespec) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int setxattr(String path, String name, Pointer value, @size_t long size, int flags) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int removexattr(String path, String name) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int fallocate(String path, int mode, @off_t long off, @off_t long length, FuseFileInfo fi) {
        return -ErrorCodes.EPERM();
    }

    private Optional<Secret> lookup(String path) {
        String name = name(path);
        return name == null ? Optional.empty() : directory.lookup(name);
    }

    /**
     * Length of a name in bytes, as the kernel counts it against NAME_MAX (characters are not bytes):
     * the bytes of the kernel's LOOKUP where this getattr answers one, else the name's UTF-8.
     */
    private static int nameBytes(String name) {
        int raw = FuseLoop.currentLookupNameBytes();
        return raw >= 0 ? raw : name.getBytes(StandardCharsets.UTF_8).length;
    }

    /** The file name of a path directly under the root, or null for anything else. */
    private static String name(String path) {
        if (path == null || path.length() < 2 || path.charAt(0) != '/' || path.indexOf('/', 1) >= 0) {
            return null;
        }
        return path.substring(1);
    }

    private static int errno(String op, String path, Throwable t) {
        if (t instanceof NoSuchFileException) {
            return -ErrorCodes.ENOENT();
        }
        if (t instanceof AccessDeniedException) {
            return -ErrorCodes.EACCES();
        }
        if (t instanceof ErrnoException e) {
            LOG.log(System.Logger.Level.WARNING, "{0} {1} failed: {2}", op, path, t.getMessage());
            return -e.errno();
        }
        LOG.log(System.Logger.Level.WARNING, "{0} {1} failed: {2}", op, path, String.valueOf(t));
        LOG.log(System.Logger.Level.DEBUG, "stack trace", t);
        return -ErrorCodes.EIO();
    }
}
