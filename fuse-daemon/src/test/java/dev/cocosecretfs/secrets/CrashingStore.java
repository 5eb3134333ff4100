// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.secrets;

import dev.cocosecretfs.platform.NativeMemory;
import dev.cocosecretfs.store.BackingStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A page in memory that models what a disk keeps: wipes land in the running process's view at once,
 * but reach the durable image only at {@link #sync()}. After {@code stepsLeft} wipes and syncs it
 * crashes: that call and every later one fails and does nothing, as if the process had died there.
 * {@link #afterCrash()} then gives every image the disk might hold: the durable one with any of the
 * unsynced wipes applied whole, in part (each half) or not at all.
 */
final class CrashingStore implements BackingStore {
    private final byte[] durable;
    private final byte[] view;
    private final boolean writable;
    private final List<long[]> pending = new ArrayList<>();
    private int stepsLeft;
    private boolean crashed;
    /** The wipes and syncs made, as "wipe OFFSET+LENGTH" and "sync". */
    final List<String> steps = new ArrayList<>();

    CrashingStore(byte[] page, boolean writable, int stepsLeft) {
        this.durable = page.clone();
        this.view = page.clone();
        this.writable = writable;
        this.stepsLeft = stepsLeft;
    }

    boolean crashed() {
        return crashed;
    }

    /** The page as the running process sees it. */
    byte[] view() {
        return view.clone();
    }

    private void step(String what) throws IOException {
        if (crashed || stepsLeft-- <= 0) {
            crashed = true;
            throw new IOException("crashed before " + what);
        }
        steps.add(what);
    }

    @Override
    public long size() {
        return view.length;
    }

    @Override
    public void readMetadata(long offset, ByteBuffer dst) throws IOException {
        if (crashed) {
            throw new IOException("crashed");
        }
        dst.put(view, (int) offset, dst.remaining());
    }

    @Override
    public void readInto(long offset, long dst, int length) throws IOException {
        if (crashed) {
            throw new IOException("crashed");
        }
        NativeMemory.put(dst, Arrays.copyOfRange(view, (int) offset, (int) offset + length));
    }

    @Override
    public void wipe(long offset, long length) throws IOException {
        if (!writable) {
            throw new IOException("read-only");
        }
        step("wipe " + offset + "+" + length);
        Arrays.fill(view, (int) offset, (int) (offset + length), (byte) 0);
        pending.add(new long[] {offset, length});
    }

    @Override
    public boolean writable() {
        return writable;
    }

    @Override
    public void sync() throws IOException {
        step("sync");
        for (long[] w : pending) {
            Arrays.fill(durable, (int) w[0], (int) (w[0] + w[1]), (byte) 0);
        }
        pending.clear();
    }

    /** Every image the disk may hold after the crash (or now, had the machine stopped). */
    List<byte[]> afterCrash() {
        List<byte[]> images = new ArrayList<>();
        images.add(durable.clone());
        for (long[] w : pending) {
            List<byte[]> more = new ArrayList<>();
            for (byte[] image : images) {
                long half = w[1] / 2;
                for (long[] part : new long[][] {{w[0], w[1]}, {w[0], half}, {w[0] + half, w[1] - half}}) {
                    byte[] copy = image.clone();
                    Arrays.fill(copy, (int) part[0], (int) (part[0] + part[1]), (byte) 0);
                    more.add(copy);
                }
            }
            images.addAll(more);
        }
        return images;
    }

    @Override
    public String describe() {
        return "crashing store";
    }

    @Override
    public void close() {}
}
