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
import java.nio.ByteBuffer;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Lock;
import jnr.ffi.Pointer;

/**
 * The live secrets of one backing store, by name. Reads copy a secret's bytes from the store straight
 * into a native buffer; a wipe zeroes them in the store and drops the secret.
 *
 * <p>Thread-safe. A read and a wipe of the same secret never interleave: each read sees the whole
 * secret as it was before the wipe, or nothing.
 */
public final class SecretDirectory {
    private static final System.Logger LOG = System.getLogger(SecretDirectory.class.getName());

    /** Per-thread room for the entry header that every read checks. */
    private static final ThreadLocal<byte[]> HEADER = ThreadLocal.withInitial(() -> new byte[SecretEntry.HEADER_BYTES]);

    private final BackingStore store;
    private final SecretTable table;
    /** Hashed, not sorted: every open looks a name up, while only a listing needs the order. */
    private final Map<String, Secret> live = new ConcurrentHashMap<>();
    /** Every secret live at open, wiped ones included, by {@link Secret#handle()} - 1. */
    private final ImmutableList<Secret> byHandle;

    private SecretDirectory(BackingStore store, SecretTable table) {
        this.store = store;
        this.table = table;
        ImmutableList.Builder<Secret> all = ImmutableList.builder();
        long handle = 1;
        for (SecretEntry entry : table.live()) {
            Secret secret = new Secret(entry, handle++);
            live.put(secret.name(), secret);
            all.add(secret);
        }
        this.byHandle = all.build();
    }

    /**
     * Reads the table of {@code store} (only its headers) and opens the directory of its live
     * secrets.
     *
     * @throws TableFormatException if the table is corrupt: nothing is exposed then
     */
    public static SecretDirectory open(BackingStore store) throws IOException, TableFormatException {
        checkNotNull(store, "store");
        SecretTable table = SecretTable.parse(store.size(), store::readMetadata);
        if (!table.populated()) {
            LOG.log(System.Logger.Level.INFO, "{0} holds no secret table (header GUID is not {1}): no secrets",
                    store.describe(), SecretTable.HEADER_GUID);
        }
        return new SecretDirectory(store, table);
    }

    /** The table as it was parsed at open. */
    public SecretTable table() {
        return table;
    }

    /** Names of the live secrets, sorted. */
    public ImmutableList<String> names() {
        return ImmutableList.sortedCopyOf(live.keySet());
    }

    /** Number of live secrets. */
    public int size() {
        return live.size();
    }

    /** The live secret of that name, if any; names are lowercase GUIDs with dashes. */
    public Optional<Secret> lookup(String name) {
        return Optional.ofNullable(live.get(name));
    }

    /**
     * The secret of that {@link Secret#handle()}, wiped or not (a wiped one reads as empty), if the
     * handle is one of this directory's.
     */
    public Optional<Secret> byHandle(long handle) {
        return handle >= 1 && handle <= byHandle.size() ? Optional.of(byHandle.get((int) (handle - 1)))
                : Optional.empty();
    }

    /**
     * Copies up to {@code size} bytes of the secret from {@code offset} into {@code dst}.
     *
     * @return bytes copied: 0 at or past the end, and 0 once the secret has been wiped
     */
    public int read(Secret secret, long offset, long size, Pointer dst) throws IOException {
        checkArgument(offset >= 0, "offset %s is negative", offset);
        Lock lock = secret.lock().readLock();
        lock.lock();
        try {
            if (secret.wiped() || offset >= secret.length()) {
                return 0;
            }
            int n = (int) Math.min(Math.min(size, secret.length() - offset), dst.size());
            if (n <= 0) {
                return 0;
            }
            if (secret.damaged()) {
                throw new FileSystemException(store.describe(), null, "secret " + secret.name()
                        + " may be partly wiped by a failed unlink; unlink it again");
            }
            // The entry's header is read along with the data (in one read when the data starts right
            // after it) and checked after: the reader gets an error, never bytes that are not the
            // secret, if the backing was truncated or rewritten under the mount.
            SecretEntry entry = secret.entry();
            byte[] header = HEADER.get();
            if (offset == 0) {
                store.readInto(entry.offset(), header, dst, n);
            } else {
                store.readMetadata(entry.offset(), ByteBuffer.wrap(header));
                store.readInto(entry.dataOffset() + offset, dst, n);
            }
            if (!secret.headerIs(header, false)) {
                throw changed(entry);
            }
            return n;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Checks that the page still holds the secret's GUID and length where they were at open, or, if
     * the secret is damaged, the zero GUID that the failed wipe may have got as far as writing.
     */
    private void checkHeader(Secret secret) throws IOException {
        byte[] header = HEADER.get();
        store.readMetadata(secret.entry().offset(), ByteBuffer.wrap(header));
        if (!secret.headerIs(header, secret.damaged())) {
            throw changed(secret.entry());
        }
    }

    private FileSystemException changed(SecretEntry entry) {
        return new FileSystemException(store.describe(), null, "entry at offset " + entry.offset()
                + " no longer holds secret " + entry.guid() + " of length " + entry.length()
                + ": the backing changed under the mount");
    }

    /**
     * Wipes the secret of that name: zeroes its data, then its GUID (its length stays, so the table
     * still parses), then syncs the store, and only then drops it. If any step fails the secret stays
     * and the failure is thrown: a wipe is never reported that did not happen. A secret whose wipe
     * failed part-way reads as an error from then on, since part of it may be zeros; unlinking it
     * again finishes the wipe. Nothing is written if the store is read-only or the entry's header is
     * no longer where it was.
     *
     * @return the wiped entry, for logging
     * @throws NoSuchFileException if there is no live secret of that name
     */
    public SecretEntry wipe(String name) throws IOException {
        Secret secret = live.get(name);
        if (secret == null) {
            throw new NoSuchFileException(name);
        }
        Lock lock = secret.lock().writeLock();
        lock.lock();
        try {
            if (secret.wiped()) {
                throw new NoSuchFileException(name);
            }
            SecretEntry entry = secret.entry();
            checkHeader(secret);
            try {
                store.wipe(entry.dataOffset(), entry.dataLength());
                store.wipe(entry.offset(), Guid.BYTES);
                store.sync();
            } catch (IOException | RuntimeException e) {
                if (store.writable()) {
                    secret.markDamaged(); // a read-only store refused before writing: the secret is whole
                }
                throw e;
            }
            secret.markWiped();
            live.remove(name, secret);
            return entry;
        } finally {
            lock.unlock();
        }
    }
}
