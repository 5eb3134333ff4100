// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static com.google.common.base.Preconditions.checkNotNull;

import com.google.common.collect.ImmutableMap;
import dev.cocosecretfs.platform.ErrnoException;
import dev.cocosecretfs.platform.FuseLowLevel;
import dev.cocosecretfs.platform.FuseLowLevel.Attributes;
import dev.cocosecretfs.platform.Operations;
import dev.cocosecretfs.platform.ReplyBuffer;
import dev.cocosecretfs.policy.Access;
import dev.cocosecretfs.policy.Policy;
import dev.cocosecretfs.policy.Rule;
import dev.cocosecretfs.secrets.Secret;
import dev.cocosecretfs.secrets.SecretDirectory;
import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretEntry;
import dev.cocosecretfs.table.SecretTable;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
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
 * <p>The {@link Policy} in force gives each secret's file its owner, group and mode (what it says
 * nothing about comes from the {@link Ownership}), and may give it a name: a symbolic link of that
 * name in the root, pointing at the GUID, of node id {@code 2^32 + i + 2}. Unlinking a link removes
 * only the link, until the next reload; wiping a secret removes its link too. A secret the policy
 * marks {@code once} is wiped when an open that returned all of it is released. {@link #reload}
 * swaps the policy whole.
 *
 * <p>Only lookup, getattr, readlink, readdir, open, read, release, unlink and statfs do anything.
 * Each open gets a file handle of its own ({@link OpenSecret}), freed at release, which knows whether
 * that open has returned any of the secret: a reader that had part of a secret when it was wiped gets
 * {@code EIO}, never a clean end of file after a prefix. Every operation that would create or change a secret
 * answers {@code EPERM}: the area can be erased, never forged. Every callback answers with one errno
 * for whatever fails; nothing is thrown into native code.
 */
public final class SecretFs implements Operations.Callbacks {
    private static final System.Logger LOG = System.getLogger(SecretFs.class.getName());

    /** Name of the filesystem, seen as {@code fuse.coco-secretfs} in /proc/self/mountinfo. */
    public static final String FS_NAME = "coco-secretfs";

    static final long ROOT = 1;
    /** Node ids of the links start here, above every secret's (a table has fewer than 2^31 entries). */
    static final long LINKS = 1L << 32;
    /**
     * How long the kernel may keep a secret's name or attributes: they change by an unlink, which it
     * sees, by a once-wipe and by a reload, which tell it.
     */
    private static final double TIMEOUT_SECONDS = 1.0;
    /**
     * How long the kernel may keep a link's name or attributes: not at all. A link goes with its
     * secret's unlink, and the kernel cannot be told before that unlink is answered (it holds the
     * directory's lock, which forgetting a name takes), so every use of a link asks the daemon.
     */
    private static final double LINK_TIMEOUT_SECONDS = 0;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFLNK = 0120000;
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
    /** What a secret gets where the policy says nothing: {@code --uid}, {@code --gid}, {@code --mode}. */
    private final Access fallback;
    /** The policy in force and the links it gives; swapped whole by {@link #reload}. */
    private volatile View view;
    /** The loop serving this filesystem, to notify the kernel through; null until mounted. */
    private volatile FuseLoop kernel;
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

    /** The secrets of {@code directory}, each with {@code ownership}'s owner, group and mode: no policy. */
    public SecretFs(SecretDirectory directory, Ownership ownership) {
        this(directory, ownership, Policy.none());
    }

    /** The secrets of {@code directory} as {@code policy} gives them, {@code ownership} where it says nothing. */
    public SecretFs(SecretDirectory directory, Ownership ownership, Policy policy) {
        this.directory = checkNotNull(directory, "directory");
        this.ownership = checkNotNull(ownership, "ownership");
        this.fallback = Access.of(ownership.uid(), ownership.gid(), ownership.fileMode());
        this.view = View.of(checkNotNull(policy, "policy"), directory);
        this.operations = Operations.of(this);
    }

    /** Called by the mount once its loop runs: the kernel can be notified from then on. */
    void attach(FuseLoop loop) {
        this.kernel = loop;
    }

    /** The policy in force. */
    public Policy policy() {
        return view.policy;
    }

    /**
     * Puts {@code policy} in force in place of the one before, at once for every request that comes
     * after, and tells the kernel to forget what it caches of the old one ({@link #forgetCached}, and
     * the names of the old links). Links unlinked under the old policy come back if the new one gives
     * them. Logs a warning for each GUID the policy lists that the page does not hold.
     */
    public void reload(Policy policy) {
        checkNotNull(policy, "policy");
        View old = view;
        view = View.of(policy, directory);
        forgetCached(old);
    }

    /**
     * Tells the kernel to forget what it caches that a policy decides: the attributes of the root, of
     * every secret and of every link, and the names of the links. Not the names of the secrets, which
     * no policy changes: forgetting a name detaches whatever is mounted on it, such as a container's
     * bind of one secret. After a takeover, what the kernel caches came from the daemon before.
     */
    public void forgetCached() {
        forgetCached(view);
    }

    private void forgetCached(View old) {
        FuseLoop loop = kernel;
        if (loop == null) {
            return;
        }
        notifyKernel("attributes of the root", loop.invalidateAttributes(ROOT));
        SecretTable table = directory.table();
        for (int i = 0; i < table.size(); i++) {
            if (table.state(i) == SecretEntry.State.LIVE) {
                notifyKernel("attributes of a secret", loop.invalidateAttributes(node(i)));
            }
        }
        Map<String, Integer> links = new HashMap<>(old.byName);
        links.putAll(view.byName);
        for (Map.Entry<String, Integer> link : links.entrySet()) {
            notifyKernel("attributes of a link", loop.invalidateAttributes(linkNode(link.getValue())));
            notifyKernel("a link's name", loop.invalidateEntry(ROOT, link.getKey()));
        }
    }

    private static void notifyKernel(String what, int res) {
        if (res < 0 && res != -ENOENT) { // ENOENT: the kernel has nothing cached of it
            LOG.log(System.Logger.Level.DEBUG, "telling the kernel to forget the {0} failed (errno {1})", what,
                    String.valueOf(-res));
        }
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

    /** The node id of the link to the secret of table entry {@code index}. */
    static long linkNode(int index) {
        return LINKS + index + 2L;
    }

    /**
     * The policy in force and what it gives: the links, by name and by the table index of their
     * secret (only secrets live when the view was made), and which links were unlinked since.
     */
    private static final class View {
        final Policy policy;
        final boolean inForce;
        final ImmutableMap<String, Integer> byName;
        final ImmutableMap<Integer, String> byIndex;
        /** Table indexes of the links unlinked under this view: they come back with the next. */
        final Set<Integer> unlinked = ConcurrentHashMap.newKeySet();

        private View(Policy policy, ImmutableMap<String, Integer> byName, ImmutableMap<Integer, String> byIndex) {
            this.policy = policy;
            this.inForce = policy.inForce();
            this.byName = byName;
            this.byIndex = byIndex;
        }

        /** The view of {@code policy} over {@code directory}; warns of each GUID listed that the page does not hold. */
        static View of(Policy policy, SecretDirectory directory) {
            ImmutableMap.Builder<String, Integer> byName = ImmutableMap.builder();
            ImmutableMap.Builder<Integer, String> byIndex = ImmutableMap.builder();
            SecretTable table = directory.table();
            for (Map.Entry<Guid, Rule> e : policy.rules().entrySet()) {
                int i = table.find(e.getKey());
                if (i < 0 || directory.liveByIndex(i).isEmpty()) {
                    LOG.log(System.Logger.Level.WARNING, "{0}:{1}: {2} is not in the page (not injected, or wiped)",
                            policy.source().map(String::valueOf).orElse("policy"), String.valueOf(e.getValue().line()),
                            e.getKey());
                    continue;
                }
                Optional<String> name = e.getValue().name();
                if (name.isPresent()) {
                    byName.put(name.get(), i);
                    byIndex.put(i, name.get());
                }
            }
            return new View(policy, byName.buildOrThrow(), byIndex.buildOrThrow());
        }

        /** The table index of the secret of the link {@code name}, if this view gives such a link. */
        OptionalInt link(String name) {
            Integer i = byName.get(name);
            return i == null ? OptionalInt.empty() : OptionalInt.of(i);
        }
    }

    /** What the secret gets from the policy in force. */
    Access access(Secret secret) {
        return view.policy.access(directory.table().guid(secret.index()), fallback);
    }

    /** The name of the link to the secret of table entry {@code index}, if it has one now: its secret is live. */
    Optional<String> linkOf(int index) {
        View v = view;
        String name = v.byIndex.get(index);
        if (name == null || v.unlinked.contains(index) || directory.liveByIndex(index).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(name);
    }

    /** The secret the link of node id {@code node} points at, if that link is there now. */
    Optional<Secret> linked(long node) {
        if (node < LINKS + 2 || node - LINKS - 2 > Integer.MAX_VALUE) {
            return Optional.empty();
        }
        int index = (int) (node - LINKS - 2);
        return linkOf(index).flatMap(name -> directory.liveByIndex(index));
    }

    /** The secret of the link named {@code name}, if that link is there now. */
    Optional<Secret> linkNamed(String name) {
        View v = view;
        OptionalInt index = v.link(name);
        if (index.isEmpty() || v.unlinked.contains(index.getAsInt())) {
            return Optional.empty();
        }
        return directory.liveByIndex(index.getAsInt());
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
        String n = FuseLowLevel.name(name, length);
        Optional<Secret> secret = directory.lookup(n);
        if (secret.isPresent()) {
            fuse.replyEntry(req, node(secret.get().index()), attributes(secret.get()), TIMEOUT_SECONDS);
            return 0;
        }
        Optional<Secret> linked = linkNamed(n);
        if (linked.isPresent()) {
            fuse.replyEntry(req, linkNode(linked.get().index()), linkAttributes(linked.get()), LINK_TIMEOUT_SECONDS);
            return 0;
        }
        return ENOENT;
    }

    @Override
    public int getattr(long req, long node) {
        if (node == ROOT) {
            fuse.replyAttr(req, ROOT, rootAttributes(), TIMEOUT_SECONDS);
            return 0;
        }
        Optional<Secret> secret = live(node);
        if (secret.isPresent()) {
            fuse.replyAttr(req, node, attributes(secret.get()), TIMEOUT_SECONDS);
            return 0;
        }
        Optional<Secret> linked = linked(node);
        if (linked.isPresent()) {
            fuse.replyAttr(req, node, linkAttributes(linked.get()), LINK_TIMEOUT_SECONDS);
            return 0;
        }
        return ENOENT;
    }

    /** The root: {@code --uid}, {@code --gid}, and its mode from the ownership and whether a policy is in force. */
    Attributes rootAttributes() {
        return new Attributes(S_IFDIR | ownership.directoryMode(view.inForce), 2, ownership.uid(), ownership.gid(),
                0, mountTime);
    }

    /** A secret's file: a regular file with the owner, group and mode the policy gives it. */
    Attributes attributes(Secret secret) {
        Access access = access(secret);
        return new Attributes(S_IFREG | access.mode(), 1, access.uid(), access.gid(), secret.length(), mountTime);
    }

    /**
     * A secret's link: the secret's owner and group (whom the sticky bit lets delete it), mode 0777
     * as every symbolic link, and the length of its target as its size.
     */
    Attributes linkAttributes(Secret secret) {
        Access access = access(secret);
        return new Attributes(S_IFLNK | 0777, 1, access.uid(), access.gid(), secret.name().length(), mountTime);
    }

    /** readlink: a link's target is its secret's GUID, a name in the same directory. */
    @Override
    public int readlink(long req, long node) {
        Optional<Secret> linked = linked(node);
        if (linked.isPresent()) {
            fuse.replyReadlink(req, linked.get().name());
            return 0;
        }
        return node == ROOT || live(node).isPresent() ? EINVAL : ENOENT;
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
     * {@code ..}). The links come after the secrets, each at the position of its secret's plus the
     * number of secrets, so a link keeps its place whatever other links come and go.
     * Nothing is copied or sorted per call, and a secret wiped between two calls neither moves the
     * others nor repeats one.
     */
    @Override
    public int readdir(long req, long node, long size, long offset) {
        if (node != ROOT) {
            return live(node).isPresent() || linked(node).isPresent() ? ENOTDIR : ENOENT;
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
            int secrets = directory.listingSize();
            if (k < secrets) {
                Optional<Secret> secret = directory.listedSecret((int) k);
                if (secret.isPresent()
                        && !sink.add(secret.get().name(), node(secret.get().index()), S_IFREG, next + 1)) {
                    return;
                }
                continue;
            }
            if (k >= 2L * secrets || view.byIndex.isEmpty()) {
                return;
            }
            Optional<Secret> secret = directory.listedSecret((int) (k - secrets));
            Optional<String> link = secret.flatMap(s -> linkOf(s.index()));
            if (link.isPresent() && !sink.add(link.get(), linkNode(secret.get().index()), S_IFLNK, next + 1)) {
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

    /**
     * release: the open's handle goes; the kernel sends it once per open, after the last close. If
     * that open returned all of a secret that the policy marks {@code once}, the secret is wiped, as
     * by an unlink.
     */
    @Override
    public int release(long req, long node, long fi) {
        OpenSecret open = opens.remove(FuseLowLevel.fileHandle(fi));
        if (open == null || !wipesAtRelease(open)) {
            fuse.replyError(req, 0);
            return 0;
        }
        FuseLoop.slow(); // the wipe syncs the backing
        Secret secret = open.secret();
        SecretEntry entry;
        try {
            entry = directory.wipe(secret.name());
        } catch (NoSuchFileException e) {
            fuse.replyError(req, 0); // wiped since, by another release or an unlink
            return 0;
        } catch (Throwable t) {
            errno("the once-wipe of", secret.name(), t);
            fuse.replyError(req, 0);
            return 0;
        }
        Optional<String> link = Optional.ofNullable(view.byIndex.get(secret.index()));
        dropCachedPages(secret.name(), node(secret.index()));
        fuse.replyError(req, 0);
        forgetNames(secret.name(), link);
        LOG.log(System.Logger.Level.INFO, "wiped secret {0} ({1} bytes at offset {2}): an open read all of it and"
                + " was closed (once)", secret.name(), String.valueOf(entry.dataLength()),
                String.valueOf(entry.dataOffset()));
        return 0;
    }

    /** True if releasing {@code open} wipes its secret: it returned all of it, and the policy says once. */
    boolean wipesAtRelease(OpenSecret open) {
        return open.returnedAll() && directory.isLive(open.secret()) && access(open.secret()).once();
    }

    /**
     * Tells the kernel to forget the names of a secret wiped without an unlink of its name: its GUID
     * and its link's. Called once the request is answered, by a worker that does not lead (the kernel
     * takes the directory's lock for it).
     */
    private void forgetNames(String guid, Optional<String> link) {
        FuseLoop loop = kernel;
        if (loop == null) {
            return;
        }
        notifyKernel("name of a wiped secret", loop.invalidateEntry(ROOT, guid));
        link.ifPresent(name -> notifyKernel("a link's name", loop.invalidateEntry(ROOT, name)));
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
                return unlinkLink(req, guid);
            }
            index = secret.get().index();
            entry = directory.wipe(guid);
        } catch (Throwable t) {
            return errno("unlink", guid, t);
        }
        Optional<String> link = Optional.ofNullable(view.byIndex.get(index));
        dropCachedPages(guid, node(index));
        LOG.log(System.Logger.Level.INFO, "wiped secret {0} ({1} bytes at offset {2}) for pid {3} uid {4}", guid,
                String.valueOf(entry.dataLength()), String.valueOf(entry.dataOffset()),
                String.valueOf(fuse.callerPid(req)), String.valueOf(fuse.callerUid(req)));
        fuse.replyError(req, 0);
        // The link went with the secret; the kernel forgets its name now rather than at its next use.
        // Only after the reply: the unlink's caller holds the directory's lock until then.
        FuseLoop loop = kernel;
        if (loop != null && link.isPresent()) {
            notifyKernel("a link's name", loop.invalidateEntry(ROOT, link.get()));
        }
        return 0;
    }

    /** unlink of a link's name: the link goes until the next reload or restart; its secret stays. */
    private int unlinkLink(long req, String name) {
        if (!removeLink(name)) {
            return ENOENT;
        }
        LOG.log(System.Logger.Level.INFO, "removed link {0} for pid {1} uid {2}; its secret stays", name,
                String.valueOf(fuse.callerPid(req)), String.valueOf(fuse.callerUid(req)));
        fuse.replyError(req, 0);
        return 0;
    }

    /** Removes the link {@code name} under the policy in force: false if there is no such link now. */
    boolean removeLink(String name) {
        View v = view;
        OptionalInt index = v.link(name);
        return index.isPresent() && directory.liveByIndex(index.getAsInt()).isPresent()
                && v.unlinked.add(index.getAsInt());
    }

    /**
     * Drops every page of the wiped secret that the kernel caches. direct_io keeps reads out of the
     * page cache, but not a private mapping (mmap with MAP_PRIVATE), whose pages would stay there
     * while the mapping lives. Called once the wipe has released the secret's lock: the kernel waits
     * for a page being read in, whose READ would otherwise wait for that lock.
     */
    private void dropCachedPages(String name, long node) {
        FuseLoop loop = kernel;
        if (loop == null) {
            return;
        }
        try {
            int res = loop.invalidateInode(node);
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
