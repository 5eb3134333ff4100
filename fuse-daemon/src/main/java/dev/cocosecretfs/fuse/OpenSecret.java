// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import dev.cocosecretfs.secrets.Secret;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One open of a secret (one FUSE file handle): which secret, which kernel node it was opened through,
 * and what it has returned so far, so that a read after the secret was wiped can tell a reader that
 * had part of it (an error) from one that had none (an empty file) or all (the end of the file).
 * Thread-safe: descriptors are shared, and reads of one may run at once.
 */
final class OpenSecret {
    private final Secret secret;
    private final long node;
    /** True once any read of this open returned a byte. */
    private volatile boolean returnedAny;
    /** True once any read of this open was answered, even with no byte (an empty secret's). */
    private volatile boolean answered;
    /** Every byte in [0, prefix) has been returned by some read of this open. */
    private final AtomicLong prefix = new AtomicLong();

    OpenSecret(Secret secret, long node) {
        this.secret = secret;
        this.node = node;
    }

    Secret secret() {
        return secret;
    }

    /** The kernel's node id of the file, whose cached pages a wipe drops; 0 if unknown. */
    long node() {
        return node;
    }

    /** Records that a read returned {@code n} bytes from {@code offset}; call before answering it. */
    void returned(long offset, int n) {
        answered = true;
        if (n <= 0) {
            return;
        }
        returnedAny = true;
        long end = offset + n;
        long seen = prefix.get();
        while (offset <= seen && end > seen && !prefix.compareAndSet(seen, end)) {
            seen = prefix.get();
        }
    }

    /**
     * True if a read once the secret is gone must fail: this open returned part of the secret, and the
     * reader must not take that part for the whole. An open that returned none of it reads an empty
     * file then, and one that returned all of it (every byte from the start) reads 0 as at its end.
     */
    boolean torn() {
        return returnedAny && prefix.get() < secret.length();
    }

    /**
     * True if this open has returned every byte of the secret, [0, length): reads that cover it
     * from the start, each beginning at or before the end of what the ones before returned (an
     * empty secret: once a read was answered). What a policy's {@code once} waits for to wipe.
     */
    boolean returnedAll() {
        return answered && prefix.get() >= secret.length();
    }
}
