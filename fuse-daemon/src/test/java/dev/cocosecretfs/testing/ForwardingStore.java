// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import dev.cocosecretfs.store.BackingStore;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A store that does what {@code real} does, for tests to override the one step they make fail or
 * wait. Every method of {@link BackingStore} is forwarded, the interface's defaults too, so that
 * what a test does not override runs the real store's own code (FdStore's one {@code preadv} of a
 * header and its data, not the default's two reads); {@link ForwardingStoreTest} holds it to that.
 * Closing it leaves {@code real} open: the test owns that.
 */
public class ForwardingStore implements BackingStore {
    public final BackingStore real;

    public ForwardingStore(BackingStore real) {
        this.real = real;
    }

    @Override
    public long size() {
        return real.size();
    }

    @Override
    public void readMetadata(long offset, ByteBuffer dst) throws IOException {
        real.readMetadata(offset, dst);
    }

    @Override
    public void readInto(long offset, long dst, int length) throws IOException {
        real.readInto(offset, dst, length);
    }

    @Override
    public void readInto(long offset, byte[] head, long dst, int length) throws IOException {
        real.readInto(offset, head, dst, length);
    }

    @Override
    public void wipe(long offset, long length) throws IOException {
        real.wipe(offset, length);
    }

    @Override
    public boolean writable() {
        return real.writable();
    }

    @Override
    public void sync() throws IOException {
        real.sync();
    }

    @Override
    public String describe() {
        return real.describe();
    }

    @Override
    public void close() {}
}
