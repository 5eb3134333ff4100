// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.secrets;

import dev.cocosecretfs.table.SecretEntry;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A live secret of a {@link SecretDirectory}: where its bytes are, and the lock that keeps a read
 * and the wipe of the same secret from interleaving. Holds no secret bytes.
 */
public final class Secret {
    private final SecretEntry entry;
    private final String name;
    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean wiped; // guarded by lock
    private boolean damaged; // guarded by lock

    Secret(SecretEntry entry) {
        this.entry = entry;
        this.name = entry.guid().toString();
    }

    /** The file name: the GUID, lowercase with dashes. */
    public String name() {
        return name;
    }

    /** Length of the secret in bytes. */
    public long length() {
        return entry.dataLength();
    }

    SecretEntry entry() {
        return entry;
    }

    ReadWriteLock lock() {
        return lock;
    }

    boolean wiped() {
        return wiped;
    }

    void markWiped() {
        wiped = true;
    }

    /** True once a wipe failed part-way: some of the bytes may already be zeros. */
    boolean damaged() {
        return damaged;
    }

    void markDamaged() {
        damaged = true;
    }
}
