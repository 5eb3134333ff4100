// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import dev.cocosecretfs.store.BackingStore;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A backing store whose wipes wait until the test lets them go, as a wipe on a slow disk would (the
 * hold SlowWipeIT uses, for tests that need one).
 */
public final class HeldWipes extends ForwardingStore {
    public final CountDownLatch wiping = new CountDownLatch(1);
    public final CountDownLatch letGo = new CountDownLatch(1);
    private final BackingStore real;
    private final long boundSeconds;

    /** {@code real}, whose wipes count {@link #wiping} down, then wait up to {@code boundSeconds} for {@link #letGo}. */
    public HeldWipes(BackingStore real, long boundSeconds) {
        super(real);
        this.real = real;
        this.boundSeconds = boundSeconds;
    }

    @Override
    public void wipe(long offset, long length) throws IOException {
        wiping.countDown();
        try {
            if (!letGo.await(boundSeconds, TimeUnit.SECONDS)) {
                throw new IOException("the test never let the wipe go");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        real.wipe(offset, length);
    }
}
