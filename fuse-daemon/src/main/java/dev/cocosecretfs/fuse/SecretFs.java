// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static com.google.common.base.Preconditions.checkNotNull;

import dev.cocosecretfs.platform.ErrnoException;
import dev.cocosecretfs.platform.FuseLowLevel;
import dev.cocosecretfs.platform.FuseLowLevel.Attributes;
import dev.cocosecretfs.platform.Operations;
import dev.cocosecretfs.platform.ReplyBuffer;
import dev.cocosecretfs.secrets.Secret;
import dev.cocosecretfs.secrets.SecretDirectory;
import dev.cocosecretfs.table.SecretEntry;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The FUSE face of a {@link SecretDirectory}: one flat directory of read-only files named by GUID,
 * served through libfuse's low-level API. Node ids and names come in, errno values go out; the bytes
 * and their locking belong to the directory.
 *
 * <p>Node ids: the root is 1, and the secret whose entry is the table's {@code i}-th is {@code i + 2}.
 * An entry keeps its place in the table for the life of the page (a wiped one is zeroed, not
 * removed), so every daemon that serves the same page gives each secret the same id: a daemon that
 * takes over the connection of the one before it understands every id the kernel has cached.
 *
 * <p>Only lookup, getattr, readdir, open, read, release, unlink and statfs do anything. Each open gets
 * a file handle of its own ({@link OpenSecret}), freed at release, which knows whether that open has
 * returned any of the secret: a reader that had part of a secret when it was wiped gets {@code EIO},
 * never a clean end of file after a prefix. Every operation that would create or change a secret
 * answers {@code EPERM}: the area can be erased, never forged. Every callback answers with one errno
 * for whatever fails; nothing is thrown into native code.
 */
public final class SecretFs implements Operations.Callbacks {
    private static final System.Logger LOG = System.getLogger(SecretFs.class.getName());

    /** Name of the filesystem, seen as {@code fuse.coco-secretfs} in /proc/self/mountinfo. */
    public static final String FS_NAME = "coco-secretfs";

    static final long ROOT = 1;
    /** How long the kernel may keep a name or attributes: they change only by an unlink, which it sees. */
    private static final double TIMEOUT_SECONDS = 1.0;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFREG = 0100000;
    private static final int O_ACCMODE = 03;
    private static final int O_TRUNC = 01000;
    private static final int NAME_MAX = 255;
    private static final int ENOENT = 2;
    private static final int EIO = 5;
    private static final int ENOMEM = 12;
    private static final int EACCES = 13;
    private static final int EPERM = 1;
    private static final int ENOTDIR = 20;
    private static final int EINVAL = 22;
    private static final int ENAMETOOLONG = 36;

    private final SecretDirectory directory;
    private final Ownership ownership;
    private final long mountTime = Instant.now().getEpochSecond();
    private final CountDownLatch initialized = new CountDownLatch(1);
    /** Every open not yet released, by file handle. */
    private final Map<Long, OpenSecret> opens = new ConcurrentHashMap<>();
    /**
     * File handles start at the start time in milliseconds times 2^20, so that one of this daemon's never
     * equals one that the daemon before it gave an open that is still in use (see {@link #openOf}):
     * that daemon started earlier and would have needed a million opens for every millisecond it ran
     * to reach this daemon's first handle. (A handle that did collide is still checked against the
     * node it was opened on.)
     */
    private final AtomicLong nextHandle = new AtomicLong(System.currentTimeMillis() << 20);
    private final Operations operations;
    private final FuseLowLevel fuse = FuseLowLevel.get();

    public SecretFs(SecretDirectory directory, Ownership ownership) {
        this.directory = checkNotNull(directory, "directory");
        this.ownership = checkNotNull(ownership, "ownership");
        this.operations = Operations.of(this);
    }

    /** Counted down when the kernel's INIT request has been processed: the mount is live. */
    public CountDownLatch initialized() {
        return initialized;
    }

    /** The {@code struct fuse_lowlevel_ops} that libfuse calls. */
    Operations operations() {
        return operations;
    }

    /** The node id of the secret of table entry {@code index}. */
    static long node(int index) {
        return index + 2L;
    }

    @Override
    public void init(long conn) {
        initialized.countDown();
    }

    @Override
    public int lookup(long req, long parent, long name) {
        if (parent != ROOT) {
            return ENOTDIR;
        }
        int length = FuseLowLevel.nameLength(name, NAME_MAX);
        if (length > NAME_MAX) {
            return ENAMETOOLONG; // the kernel passes names of up to 1,024 bytes; statfs says 255
        }
        Optional<Secret> secret = directory.lookup(FuseLowLevel.name(name, length));
        if (secret.isEmpty()) {
            return ENOENT;
        }
        fuse.replyEntry(req, node(secret.get().index()), attributes(secret.get()), TIMEOUT_SECONDS);
        return 0;
    }

    @Override
    public int getattr(long req, long node) {
        if (node == ROOT) {
            fuse.replyAttr(req, ROOT, new Attributes(S_IFDIR | ownership.directoryMode(), 2, ownership.uid(),
                    ownership.gid(), 0, mountTime), TIMEOUT_SECONDS);
            return 0;
        }
        Optional<Secret> secret = live(node);
        if (secret.isEmpty()) {
            return ENOENT;
        }
        fuse.replyAttr(req, node, attributes(secret.get()), TIMEOUT_SECONDS);
        return 0;
    }

    private Attributes attributes(Secret secret) {
        return new Attributes(S_IFREG | ownership.fileMode(), 1, ownership.uid(), ownership.gid(), secret.length(),
                mountTime);
    }

    /** The live secret of a node id, if any. */
    private Optional<Secret> live(long node) {
        if (node < 2 || node - 2 > Integer.MAX_VALUE) {
            return Optional.empty();
        }
        return directory.liveByIndex((int) (node - 2));
    }

    /**
     * readdir by offset: each call fills one reply from where the last one ended, and the offset that
     * follows an entry is its position in the directory's listing plus 3 (1 and 2 follow {@code .} and
     * {@code ..}).
     * Nothing is copied or sorted per call, and a secret wiped between two calls neither moves the
     * others nor repeats one.
     */
    @Override
    public int readdir(long req, long node, long size, long offset) {
        if (node != ROOT) {
            return live(node).isPresent() ? ENOTDIR : ENOENT;
        }
        long buf = ReplyBuffer.take(size);
        long[] used = {0};
        try {
            list(offset, (name, entryNode, mode, nextOffset) -> {
                long needed = fuse.addDirectoryEntry(req, buf + used[0], size - used[0], name, entryNode, mode,
                        nextOffset);
                if (needed > size - used[0]) {
                    return false;
                }
                used[0] += needed;
                return true;
            });
            fuse.replyBuffer(req, buf, used[0]);
            return 0;
        } catch (OutOfMemoryError e) {
            return ENOMEM;
        } finally {
            ReplyBuffer.done(buf, used[0]);
        }
    }

    /** Where {@link #list} puts a directory's entries. */
    interface DirectorySink {
        /** Adds an entry; false if it did not fit, which ends the listing. */
        boolean add(String name, long node, int mode, long nextOffset);
    }

    /** Lists the root from {@code offset} (0: from the start) until the end or {@code sink} is full. */
    void list(long offset, DirectorySink sink) {
        for (long next = Math.max(offset, 0); ; next++) {
            if (next == 0 || next == 1) {
                if (!sink.add(next == 0 ? "." : "..", ROOT, S_IFDIR, next + 1)) {
                    return;
                }
                continue;
            }
            long k = next - 2;
            if (k >= directory.listingSize()) {
                return;
            }
            Optional<Secret> secret = directory.listedSecret((int) k);
            if (secret.isPresent()
                    && !sink.add(secret.get().name(), node(secret.get().index()), S_IFREG, next + 1)) {
                return;
            }
        }
    }

    /** open: refuses anything but read-only; gives the open a file handle of its own, read by direct I/O. */
    @Override
    public int open(long req, long node, long fi) {
        Optional<Secret> secret = live(node);
        if (secret.isEmpty()) {
            return ENOENT;
        }
        int flags = FuseLowLevel.openFlags(fi);
        if ((flags & O_ACCMODE) != 0 || (flags & O_TRUNC) != 0) {
            return EPERM;
        }
        long handle = nextHandle.getAndIncrement();
        opens.put(handle, new OpenSecret(secret.get(), node));
        // direct_io: no page cache, so a secret's bytes stay out of kernel memory on reads.
        if (fuse.replyOpen(req, fi, handle, true) != 0) {
            opens.remove(handle); // the caller was interrupted: no release will come
        }
        return 0;
    }

    /**
     * read: the secret goes from the store into a native buffer of this thread, which libfuse writes to
     * the kernel, and is then zeroed.
     *
     * <p>Once the secret is wiped, an open that has returned none of it reads 0 bytes (an empty
     * file), and so does one that has returned all of it; an open that has returned part of it gets
     * {@code EIO}: all of the secret or none of it, over any number of reads.
     */
    @Override
    public int read(long req, long node, long size, long offset, long fi) {
        if (offset < 0) {
            return EINVAL;
        }
        OpenSecret open = openOf(FuseLowLevel.fileHandle(fi), node, offset);
        if (open == null) {
            // Opened under the daemon before this one, of a secret wiped since: as for any open of a
            // wiped secret, all of it or none of it.
            return offset > 0 ? EIO : reply(req, 0, 0);
        }
        Secret secret = open.secret();
        long wanted = offset >= secret.length() ? 0 : Math.min(size, secret.length() - offset);
        if (wanted == 0 && size > 0 && open.torn() && !directory.isLive(secret)) {
            return EIO;
        }
        long buf = ReplyBuffer.take(wanted);
        int n = 0;
        try {
            n = directory.read(secret, offset, wanted, buf);
            if (n == 0 && wanted > 0 && open.torn()) {
                return EIO; // nothing where a live secret has bytes: wiped after this open had some of it
            }
            open.returned(offset, n);
            fuse.replyBuffer(req, buf, n);
            return 0;
        } catch (NoSuchFileException e) {
            return ENOENT;
        } catch (ErrnoException e) {
            LOG.log(System.Logger.Level.WARNING, "read of {0} failed: {1}", secret.name(), e.getMessage());
            return e.errno();
        } catch (java.io.IOException e) {
            LOG.log(System.Logger.Level.WARNING, "read of {0} failed: {1}", secret.name(), e.getMessage());
            return EIO;
        } finally {
            ReplyBuffer.done(buf, n);
        }
    }

    /**
     * The open of file handle {@code fh}. A handle this daemon did not give was given by the daemon
     * before it, to an open that is still in use: it is adopted, as an open of the node's secret that
     * has returned everything before {@code offset} (what a reader asks next follows what it had).
     */
    private OpenSecret openOf(long fh, long node, long offset) {
        OpenSecret open = opens.get(fh);
        if (open != null && open.node() == node) {
            return open;
        }
        if (node < 2 || node - 2 > Integer.MAX_VALUE) {
            return null;
        }
        Optional<Secret> secret = directory.byIndex((int) (node - 2));
        if (secret.isEmpty()) {
            return null;
        }
        OpenSecret adopted = new OpenSecret(secret.get(), node);
        adopted.returned(0, (int) Math.min(offset, Integer.MAX_VALUE));
        OpenSecret raced = opens.putIfAbsent(fh, adopted);
        return raced != null && raced.node() == node ? raced : adopted;
    }

    private int reply(long req, long address, long size) {
        fuse.replyBuffer(req, address, size);
        return 0;
    }

    /** release: the open's handle goes; the kernel sends it once per open, after the last close. */
    @Override
    public int release(long req, long node, long fi) {
        opens.remove(FuseLowLevel.fileHandle(fi));
        fuse.replyError(req, 0);
        return 0;
    }

    @Override
    public int unlink(long req, long parent, long name) {
        if (parent != ROOT) {
            return ENOENT;
        }
        int length = FuseLowLevel.nameLength(name, NAME_MAX);
        if (length > NAME_MAX) {
            return ENAMETOOLONG;
        }
        String guid = FuseLowLevel.name(name, length);
        SecretEntry entry;
        int index;
        try {
            Optional<Secret> secret = directory.lookup(guid);
            if (secret.isEmpty()) {
                return ENOENT;
            }
            index = secret.get().index();
            entry = directory.wipe(guid);
        } catch (Throwable t) {
            return errno("unlink", guid, t);
        }
        dropCachedPages(guid, node(index));
        LOG.log(System.Logger.Level.INFO, "wiped secret {0} ({1} bytes at offset {2}) for pid {3} uid {4}", guid,
                String.valueOf(entry.dataLength()), String.valueOf(entry.dataOffset()),
                String.valueOf(fuse.callerPid(req)), String.valueOf(fuse.callerUid(req)));
        fuse.replyError(req, 0);
        return 0;
    }

    /**
     * Drops every page of the wiped secret that the kernel caches. direct_io keeps reads out of the
     * page cache, but not a private mapping (mmap with MAP_PRIVATE), whose pages would stay there
     * while the mapping lives. Called once the wipe has released the secret's lock: the kernel waits
     * for a page being read in, whose READ would otherwise wait for that lock.
     */
    private void dropCachedPages(String name, long node) {
        try {
            int res = FuseLoop.invalidate(node);
            if (res < 0 && res != -ENOENT) {
                LOG.log(System.Logger.Level.WARNING, "dropping the cached pages of wiped secret {0} failed"
                        + " (errno {1})", name, String.valueOf(-res));
            }
        } catch (Throwable t) { // the wipe happened: the unlink must not be answered as failed
            LOG.log(System.Logger.Level.WARNING, "dropping the cached pages of wiped secret {0} failed: {1}", name,
                    String.valueOf(t));
        }
    }

    @Override
    public int statfs(long req) {
        fuse.replyStatfs(req, 4096, (directory.table().tableLength() + 4095) / 4096, directory.size(), NAME_MAX);
        return 0;
    }

    /** Everything that would create or change a secret: refused, the mount stays up. */
    @Override
    public int refuse(long req, String operation) {
        return EPERM;
    }

    private static int errno(String op, String name, Throwable t) {
        if (t instanceof NoSuchFileException) {
            return ENOENT;
        }
        if (t instanceof AccessDeniedException) {
            return EACCES;
        }
        if (t instanceof ErrnoException e) {
            LOG.log(System.Logger.Level.WARNING, "{0} {1} failed: {2}", op, name, t.getMessage());
            return e.errno();
        }
        LOG.log(System.Logger.Level.WARNING, "{0} {1} failed: {2}", op, name, String.valueOf(t));
        LOG.log(System.Logger.Level.DEBUG, "stack trace", t);
        return EIO;
    }
}
