// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.secrets;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import com.google.common.collect.ImmutableList;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretEntry;
import dev.cocosecretfs.table.SecretTable;
import dev.cocosecretfs.table.TableFormatException;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The live secrets of one backing store, by name. Reads copy a secret's bytes from the store straight
 * into a native buffer; a wipe zeroes them in the store and drops the secret.
 *
 * <p>Thread-safe. A read and a wipe of the same secret never interleave: each read sees the whole
 * secret as it was before the wipe, or nothing.
 *
 * <h2>Wipes survive crashes</h2>
 *
 * A wipe writes only zeros (the shim's device accepts nothing else), in three steps, each made
 * durable before the next begins ({@link BackingStore#sync()}: {@code fdatasync} for a file or a
 * block device; the shim's writes reach memory before they return):
 * <ol>
 *   <li>the first 8 bytes of the entry's GUID: the mark of a wipe in progress ({@link
 *       Guid#isWipeMark()}, {@link SecretEntry.State#WIPING}), which no parse takes for a secret;
 *   <li>the data;
 *   <li>the last 8 bytes of the GUID, which leaves the all-zero GUID of a deleted entry.
 * </ol>
 * The entry's length stays, so the table still parses. Whatever prefix of these writes reached the
 * backing when a process, a disk or the machine stopped, the page holds the secret whole under its
 * GUID (nothing reached it), a marked entry (step 1 reached it, the data whole, partly or all zero),
 * or a deleted one: never a live GUID over zeroed data. {@link #open} finishes every marked entry
 * it finds, when the store is writable, and logs it; on a read-only store it leaves the entry as it
 * is, logs it, and does not serve it. A secret whose GUID has its last 8 bytes zero is deleted at
 * step 1 already: if the wipe is cut short after that, its data stays, unserved, in a deleted entry.
 *
 * <p>Linux's efi_secret driver knows no such mark: given a page with a marked entry it would expose a
 * file named by the half-zero GUID (such as {@code 00000000-0000-0000-92ec-06879ce3da0b}) holding
 * whatever part of the data the wipe had not yet zeroed.
 *
 * <h2>Memory</h2>
 *
 * Besides the table's arrays the directory holds one int per entry (the state of its secret: wiped,
 * damaged, being wiped, number of reads in progress) and no object per secret: {@link Secret}s are
 * made per lookup. Waits, which happen only when a read and a wipe of one secret meet, share one
 * monitor.
 */
public final class SecretDirectory {
    private static final System.Logger LOG = System.getLogger(SecretDirectory.class.getName());

    /** Per-thread room for the entry header that every read checks. */
    private static final ThreadLocal<byte[]> HEADER = ThreadLocal.withInitial(() -> new byte[SecretEntry.HEADER_BYTES]);

    private static final VarHandle BE_LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle LE_INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    /** Bytes of the GUID that the first step of a wipe zeroes: the mark. */
    static final int MARK_BYTES = 8;

    /** The secret is gone: wiped by this directory, or not live when it was opened. */
    private static final int WIPED = 1 << 31;
    /** A wipe failed part-way: some of the bytes may be zeros. */
    private static final int DAMAGED = 1 << 30;
    /** A wipe holds the secret: reads and other wipes wait. */
    private static final int WIPING = 1 << 29;
    /** The number of reads in progress. */
    private static final int READERS = WIPING - 1;

    private final BackingStore store;
    private final SecretTable table;
    /** Per entry of the table, by index: WIPED, DAMAGED, WIPING and the READERS count. */
    private final AtomicIntegerArray states;
    private final AtomicInteger live;
    /** What a read or a wipe waits on when it meets a wipe of the same secret. */
    private final Object handoff = new Object();

    private SecretDirectory(BackingStore store, SecretTable table) {
        this.store = store;
        this.table = table;
        this.states = new AtomicIntegerArray(table.size());
        for (int i = 0; i < table.size(); i++) {
            if (table.state(i) != SecretEntry.State.LIVE) {
                states.set(i, WIPED);
            }
        }
        this.live = new AtomicInteger(table.liveCount());
    }

    /**
     * Reads the table of {@code store} (only its headers), finishes any wipe that was cut short (see
     * the class comment) and opens the directory of its live secrets.
     *
     * @throws TableFormatException if the table is corrupt, or holds more entries than the daemon
     *     serves ({@link SecretTable#MAX_ENTRIES}): nothing is exposed then
     */
    public static SecretDirectory open(BackingStore store) throws IOException, TableFormatException {
        checkNotNull(store, "store");
        SecretTable table;
        SecretDirectory directory;
        try {
            table = SecretTable.parse(store.size(), store::readMetadata);
            directory = new SecretDirectory(store, table);
        } catch (OutOfMemoryError e) {
            // MAX_ENTRIES keeps the table well inside the launcher's heap; a smaller heap still gets a message.
            throw new FileSystemException(store.describe(), null, "not enough memory for the table of its secrets"
                    + " (the JVM's heap is " + (java.lang.Runtime.getRuntime().maxMemory() >> 20) + " MB)");
        }
        if (!table.populated()) {
            LOG.log(System.Logger.Level.INFO, "{0} holds no secret table (header GUID is not {1}): no secrets",
                    store.describe(), SecretTable.HEADER_GUID);
        }
        directory.finishInterruptedWipes();
        return directory;
    }

    private void finishInterruptedWipes() {
        for (int i = 0; i < table.size(); i++) {
            if (table.state(i) != SecretEntry.State.WIPING) {
                continue;
            }
            SecretEntry entry = table.entry(i);
            String where = "entry at offset " + entry.offset() + " (" + entry.guid() + ", " + entry.dataLength()
                    + " bytes)";
            if (!store.writable()) {
                LOG.log(System.Logger.Level.WARNING, "{0} of {1}: a wipe of it was cut short and the backing is"
                        + " read-only, so it stays unfinished; it is not served", where, store.describe());
                continue;
            }
            try {
                byte[] header = HEADER.get();
                store.readMetadata(entry.offset(), ByteBuffer.wrap(header));
                if (headerOf(header, i) != Header.WHOLE) { // as parsed: the mark
                    throw changed(entry);
                }
                wipeData(entry);
                wipeRestOfGuid(entry);
                LOG.log(System.Logger.Level.WARNING, "{0} of {1}: finished a wipe that was cut short", where,
                        store.describe());
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "{0} of {1}: a wipe of it was cut short and could not be"
                        + " finished ({2}); it is not served", where, store.describe(), e.getMessage());
            }
        }
    }

    /** The table as it was parsed at open. */
    public SecretTable table() {
        return table;
    }

    /** Names of the live secrets, sorted (a copy: {@link #listed} lists without one). */
    public ImmutableList<String> names() {
        ImmutableList.Builder<String> names = ImmutableList.builder();
        for (int k = 0; k < listingSize(); k++) {
            String name = listed(k);
            if (name != null) {
                names.add(name);
            }
        }
        return names.build();
    }

    /**
     * Number of positions in the listing: one per secret live at open, in the order of their names.
     * A position stays the same secret's for the life of the directory, so a listing can resume at
     * a position.
     */
    public int listingSize() {
        return table.liveCount();
    }

    /** The name at {@code position} of the listing, or null if that secret has been wiped since. */
    public String listed(int position) {
        int i = table.liveByName(position);
        return (states.get(i) & WIPED) != 0 ? null : table.guid(i).toString();
    }

    /** Number of live secrets. */
    public int size() {
        return live.get();
    }

    /** The live secret of that name, if any; names are lowercase GUIDs with dashes. */
    public Optional<Secret> lookup(String name) {
        Guid guid = Guid.fromName(name);
        int i = guid == null ? -1 : table.find(guid);
        if (i < 0 || (states.get(i) & WIPED) != 0) {
            return Optional.empty();
        }
        return Optional.of(new Secret(i, guid, table.length(i) - SecretEntry.HEADER_BYTES));
    }

    /**
     * The secret of table entry {@code index}, wiped or not (a wiped one reads as empty), if that entry
     * held a live secret when the page was opened.
     */
    public Optional<Secret> byIndex(int index) {
        if (index < 0 || index >= table.size() || table.state(index) != SecretEntry.State.LIVE) {
            return Optional.empty();
        }
        return Optional.of(new Secret(index, table.guid(index), table.length(index) - SecretEntry.HEADER_BYTES));
    }

    /** The secret at {@code position} of the listing, or empty if it has been wiped since. */
    public Optional<Secret> listedSecret(int position) {
        int i = table.liveByName(position);
        if ((states.get(i) & WIPED) != 0) {
            return Optional.empty();
        }
        return Optional.of(new Secret(i, table.guid(i), table.length(i) - SecretEntry.HEADER_BYTES));
    }

    /**
     * Copies up to {@code size} bytes of the secret from {@code offset} into native memory at address
     * {@code dst}, which the caller guarantees has room for {@code size} bytes.
     *
     * @return bytes copied: 0 at or past the end, and 0 once the secret has been wiped
     */
    public int read(Secret secret, long offset, long size, long dst) throws IOException {
        checkArgument(offset >= 0, "offset %s is negative", offset);
        int i = secret.index();
        if (!beginRead(i)) {
            return 0;
        }
        try {
            if (offset >= secret.length()) {
                return 0;
            }
            int n = (int) Math.min(size, secret.length() - offset);
            if (n <= 0) {
                return 0;
            }
            if ((states.get(i) & DAMAGED) != 0) {
                throw new FileSystemException(store.describe(), null, "secret " + secret.name()
                        + " may be partly wiped by a failed unlink; unlink it again");
            }
            // The entry's header is read along with the data (in one read when the data starts right
            // after it) and checked after: the reader gets an error, never bytes that are not the
            // secret, if the backing was truncated or rewritten under the mount.
            long at = table.offset(i);
            byte[] header = HEADER.get();
            if (offset == 0) {
                store.readInto(at, header, dst, n);
            } else {
                store.readMetadata(at, ByteBuffer.wrap(header));
                store.readInto(at + SecretEntry.HEADER_BYTES + offset, dst, n);
            }
            if (headerOf(header, i) != Header.WHOLE) {
                throw changed(table.entry(i));
            }
            return n;
        } finally {
            endRead(i);
        }
    }

    /** What an entry's header on the page says, against the table parsed at open. */
    private enum Header {
        /** The GUID and the length as at open. */
        WHOLE,
        /** The length as at open, the GUID's first 8 bytes zero and its last 8 as at open. */
        MARKED,
        /** The length as at open, the GUID zero. */
        ZEROED,
        /** Anything else: the page changed under the directory. */
        OTHER
    }

    private Header headerOf(byte[] h, int i) {
        long length = Integer.toUnsignedLong((int) LE_INT.get(h, Guid.BYTES));
        if (length != table.length(i)) {
            return Header.OTHER;
        }
        // The GUID as stored: its first three fields little-endian, its last 8 bytes as they are.
        long msb = table.guidMsb(i);
        long first = Integer.toUnsignedLong(Integer.reverseBytes((int) (msb >>> 32))) << 32
                | Short.toUnsignedLong(Short.reverseBytes((short) (msb >>> 16))) << 16
                | Short.toUnsignedLong(Short.reverseBytes((short) msb));
        long last = table.guidLsb(i);
        long gotFirst = (long) BE_LONG.get(h, 0);
        long gotLast = (long) BE_LONG.get(h, MARK_BYTES);
        if (gotLast == last) {
            return gotFirst == first ? Header.WHOLE : gotFirst == 0 ? Header.MARKED : Header.OTHER;
        }
        return gotFirst == 0 && gotLast == 0 ? Header.ZEROED : Header.OTHER;
    }

    private FileSystemException changed(SecretEntry entry) {
        return new FileSystemException(store.describe(), null, "entry at offset " + entry.offset()
                + " no longer holds secret " + entry.guid() + " of length " + entry.length()
                + ": the backing changed under the mount");
    }

    /**
     * Wipes the secret of that name in the three steps of the class comment, each synced before the
     * next, and only then drops it. If any step fails the secret stays and the failure is thrown: a
     * wipe is never reported that did not happen. A secret whose wipe failed part-way reads as an
     * error from then on, since part of it may be zeros; unlinking it again finishes the wipe.
     * Nothing is written if the store is read-only or the entry's header is no longer where it was.
     *
     * @return the wiped entry, for logging
     * @throws NoSuchFileException if there is no live secret of that name
     */
    public SecretEntry wipe(String name) throws IOException {
        Guid guid = Guid.fromName(name);
        int i = guid == null ? -1 : table.find(guid);
        if (i < 0 || !beginWipe(i)) {
            throw new NoSuchFileException(name);
        }
        int after = states.get(i) & DAMAGED;
        try {
            SecretEntry entry = table.entry(i);
            byte[] header = HEADER.get();
            store.readMetadata(entry.offset(), ByteBuffer.wrap(header));
            Header found = headerOf(header, i);
            if (found == Header.OTHER || found != Header.WHOLE && after != DAMAGED) {
                throw changed(entry);
            }
            try {
                store.wipe(entry.offset(), MARK_BYTES);
                store.sync();
                wipeData(entry);
                wipeRestOfGuid(entry);
            } catch (IOException | RuntimeException e) {
                if (store.writable()) {
                    after = DAMAGED; // a read-only store refused before writing: the secret is whole
                }
                throw e;
            }
            after = WIPED;
            live.decrementAndGet();
            return entry;
        } finally {
            endWipe(i, after);
        }
    }

    /** Step 2 of a wipe: the data, synced. */
    private void wipeData(SecretEntry entry) throws IOException {
        if (entry.dataLength() > 0) {
            store.wipe(entry.dataOffset(), entry.dataLength());
            store.sync();
        }
    }

    /** Step 3 of a wipe: the GUID's last 8 bytes, synced. */
    private void wipeRestOfGuid(SecretEntry entry) throws IOException {
        store.wipe(entry.offset() + MARK_BYTES, Guid.BYTES - MARK_BYTES);
        store.sync();
    }

    /** Counts a read in, waiting out a wipe in progress; false if the secret is gone. */
    private boolean beginRead(int i) {
        while (true) {
            int s = states.get(i);
            if ((s & WIPED) != 0) {
                return false;
            }
            if ((s & WIPING) != 0) {
                awaitNoWipe(i);
            } else if (states.compareAndSet(i, s, s + 1)) {
                return true;
            }
        }
    }

    private void endRead(int i) {
        int s = states.decrementAndGet(i);
        if ((s & WIPING) != 0 && (s & READERS) == 0) {
            synchronized (handoff) {
                handoff.notifyAll();
            }
        }
    }

    /** Takes the secret for a wipe once the reads in progress are done; false if it is gone. */
    private boolean beginWipe(int i) {
        while (true) {
            int s = states.get(i);
            if ((s & WIPED) != 0) {
                return false;
            }
            if ((s & WIPING) != 0) {
                awaitNoWipe(i);
            } else if (states.compareAndSet(i, s, s | WIPING)) {
                break;
            }
        }
        boolean interrupted = false;
        synchronized (handoff) {
            while ((states.get(i) & READERS) != 0) {
                try {
                    handoff.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return true;
    }

    /** Ends a wipe, leaving the secret WIPED, DAMAGED or as it was (0). */
    private void endWipe(int i, int state) {
        states.set(i, state); // no read counts itself in while WIPING is set
        synchronized (handoff) {
            handoff.notifyAll();
        }
    }

    private void awaitNoWipe(int i) {
        boolean interrupted = false;
        synchronized (handoff) {
            while ((states.get(i) & WIPING) != 0) {
                try {
                    handoff.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
