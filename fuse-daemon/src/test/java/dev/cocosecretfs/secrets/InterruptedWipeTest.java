// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cocosecretfs.platform.NativeMemory;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretEntry;
import dev.cocosecretfs.table.SecretTable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A wipe cut short at any point, by a crash (the process or the machine stops) or a failed write,
 * never leaves a page that a later open serves with part of a secret zeroed: the victim is served
 * whole or not at all, and an open that finds it marked finishes the wipe (when it may write).
 * Failures name GUIDs and offsets; secrets are compared with {@link Arrays#equals}, never printed.
 */
@DisplayName("interrupted wipes")
class InterruptedWipeTest {
    /** A v4 GUID, and one whose last 8 bytes are zero (no v1-v5 GUID, but a producer may use one). */
    static final Guid V4 = Guid.parse("736869e5-84f0-4973-92ec-06879ce3da0b");
    static final Guid LOW_ZERO = Guid.parse("1ee27366-0c87-43a6-0000-000000000000");
    static final Guid BEFORE = Guid.parse("e6f5a162-d67f-4750-a67c-5d065f2a9910");
    static final Guid AFTER = Guid.parse("2cf13667-ea72-4013-9dd6-155e89c5a28f");

    @TempDir
    Path tmp;

    /** Random bytes, none zero: a zeroed byte anywhere shows. */
    static byte[] secret(int length, long seed) {
        byte[] b = new byte[length];
        Random random = new Random(seed);
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (1 + random.nextInt(255));
        }
        return b;
    }

    record Page(byte[] bytes, Map<Guid, byte[]> secrets, SecretEntry victim) {}

    static Page page(Guid victim, int length) throws Exception {
        Map<Guid, byte[]> secrets = new LinkedHashMap<>();
        secrets.put(BEFORE, secret(24, 1));
        secrets.put(victim, secret(length, 2));
        secrets.put(AFTER, secret(40, 3));
        Map<Guid, ByteBuffer> in = new LinkedHashMap<>();
        secrets.forEach((g, b) -> in.put(g, ByteBuffer.wrap(b)));
        byte[] bytes = SecretTable.write(in, 8192);
        return new Page(bytes, secrets, SecretTable.parse(ByteBuffer.wrap(bytes)).entries().get(1));
    }

    static List<Arguments> victims() {
        List<Arguments> cases = new ArrayList<>();
        for (Guid guid : List.of(V4, LOW_ZERO)) {
            for (int length : new int[] {0, 1, 8, 16, 40, 5000}) {
                cases.add(Arguments.of(guid, length));
            }
        }
        return cases;
    }

    /** The whole of a secret as the directory serves it, if it serves it. */
    static Optional<byte[]> served(SecretDirectory dir, Guid guid) throws IOException {
        Optional<Secret> s = dir.lookup(guid.toString());
        if (s.isEmpty()) {
            return Optional.empty();
        }
        assertThat(dir.names()).contains(guid.toString());
        int length = (int) s.get().length();
        long buf = NativeMemory.allocate(Math.max(length, 1));
        try {
            int n = dir.read(s.get(), 0, length, buf);
            return Optional.of(NativeMemory.get(buf, n));
        } finally {
            NativeMemory.free(buf);
        }
    }

    /** Opens {@code image} as a later mount would and checks what it serves and leaves. */
    static void checkLaterMount(Page page, byte[] image, String context) throws Exception {
        boolean marked = Arrays.equals(image, (int) page.victim.offset(), (int) page.victim.offset() + 8,
                new byte[8], 0, 8);
        // Read-only first: nothing is written, the victim is served whole or not at all.
        CrashingStore readOnly = new CrashingStore(image, false, 0);
        SecretDirectory ro = SecretDirectory.open(readOnly);
        checkServed(page, ro, marked, context + ", read-only");
        assertThat(readOnly.view()).as("%s: a read-only open writes nothing", context).isEqualTo(image);

        CrashingStore store = new CrashingStore(image, true, Integer.MAX_VALUE);
        SecretDirectory dir = SecretDirectory.open(store);
        checkServed(page, dir, marked, context);
        byte[] after = store.view();
        SecretEntry v = page.victim;
        if (marked && page.victim.guid().lsb() != 0) {
            assertThat(entryZeroed(after, v))
                    .as("%s: the open finished the wipe: GUID and data of the entry at %s are zero", context, v.offset())
                    .isTrue();
            assertThat(SecretTable.parse(ByteBuffer.wrap(after)).entries().get(1).wiped()).isTrue();
        }
        if (!marked) {
            assertThat(store.steps).as("%s: nothing to finish, nothing written", context).isEmpty();
        }
    }

    /** The entry's GUID and data are zero, its length field as it was. */
    static boolean entryZeroed(byte[] page, SecretEntry e) {
        int at = (int) e.offset();
        int data = (int) e.dataLength();
        return Arrays.equals(page, at, at + 16, new byte[16], 0, 16)
                && Arrays.equals(page, at + 20, at + 20 + data, new byte[data], 0, data)
                && ByteBuffer.wrap(page).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(at + 16) == e.length();
    }

    static void checkServed(Page page, SecretDirectory dir, boolean marked, String context) throws Exception {
        Guid victim = page.victim.guid();
        Optional<byte[]> got = served(dir, victim);
        if (marked) {
            assertThat(got).as("%s: a marked entry is not served", context).isEmpty();
        } else if (got.isPresent()) {
            assertThat(Arrays.equals(got.get(), page.secrets.get(victim)))
                    .as("%s: secret %s served, but not whole", context, victim).isTrue();
        }
        for (Guid other : List.of(BEFORE, AFTER)) {
            assertThat(served(dir, other).map(b -> Arrays.equals(b, page.secrets.get(other))))
                    .as("%s: %s served whole", context, other).contains(true);
        }
    }

    /** Number of wipes and syncs a whole wipe of the victim makes. */
    static int stepsOfAWipe(Page page) throws Exception {
        CrashingStore store = new CrashingStore(page.bytes, true, Integer.MAX_VALUE);
        SecretDirectory.open(store).wipe(page.victim.guid().toString());
        return store.steps.size();
    }

    @ParameterizedTest(name = "{0}, {1} bytes")
    @MethodSource("victims")
    @DisplayName("a crash after any prefix of the steps: a later mount serves the secret whole or not at all")
    void crashAtEveryStep(Guid victim, int length) throws Exception {
        Page page = page(victim, length);
        int steps = stepsOfAWipe(page);
        for (int k = 0; k <= steps; k++) {
            CrashingStore store = new CrashingStore(page.bytes, true, k);
            SecretDirectory dir = SecretDirectory.open(store);
            if (k < steps) {
                assertThatThrownBy(() -> dir.wipe(victim.toString())).isInstanceOf(IOException.class);
                assertThat(dir.names()).contains(victim.toString());
            } else {
                dir.wipe(victim.toString());
                assertThat(dir.names()).doesNotContain(victim.toString());
            }
            List<byte[]> images = store.afterCrash();
            for (int j = 0; j < images.size(); j++) {
                checkLaterMount(page, images.get(j), "stopped after " + k + " of " + steps + " steps "
                        + store.steps + ", disk image " + j);
            }
        }
    }

    @Test
    @DisplayName("each step is synced before the next: mark, sync, data, sync, rest of the GUID, sync")
    void stepsInOrder() throws Exception {
        Page page = page(V4, 40);
        CrashingStore store = new CrashingStore(page.bytes, true, Integer.MAX_VALUE);
        SecretDirectory.open(store).wipe(V4.toString());
        long at = page.victim.offset();
        assertThat(store.steps).containsExactly("wipe " + at + "+8", "sync", "wipe " + (at + 20) + "+40", "sync",
                "wipe " + (at + 8) + "+8", "sync");
    }

    @ParameterizedTest(name = "stopped after {0} steps")
    @org.junit.jupiter.params.provider.ValueSource(ints = {0, 1, 2, 3, 4, 5})
    @DisplayName("a real file page: a wipe stopped after any step; the next open serves it whole or finishes"
            + " the wipe, and logs that")
    void realFilePage(int k) throws Exception {
        Page page = page(V4, 300);
        Path file = tmp.resolve("page.bin");
        Files.write(file, page.bytes);
        try (BackingStore real = Stores.open(file)) {
            int[] left = {k};
            BackingStore stopping = new BackingStore() {
                void step() throws IOException {
                    if (left[0]-- <= 0) {
                        throw new IOException("stopped");
                    }
                }

                @Override public long size() {
                    return real.size();
                }

                @Override public void readMetadata(long offset, ByteBuffer dst) throws IOException {
                    real.readMetadata(offset, dst);
                }

                @Override public void readInto(long offset, long dst, int length) throws IOException {
                    real.readInto(offset, dst, length);
                }

                @Override public void wipe(long offset, long length) throws IOException {
                    step();
                    real.wipe(offset, length);
                }

                @Override public void sync() throws IOException {
                    step();
                    real.sync();
                }

                @Override public String describe() {
                    return real.describe();
                }

                @Override public void close() {}
            };
            assertThatThrownBy(() -> SecretDirectory.open(stopping).wipe(V4.toString()))
                    .isInstanceOf(IOException.class);
        }
        byte[] image = Files.readAllBytes(file);
        boolean marked = image[(int) page.victim.offset()] == 0;
        assertThat(marked).isEqualTo(k >= 1);
        // Stopped before the last sync only: the GUID is already zero, the wipe done but for the sync.
        boolean wiping = marked && !entryZeroed(image, page.victim);
        assertThat(wiping).isEqualTo(k >= 1 && k < 5);

        List<String> logged = new ArrayList<>();
        Handler handler = new Handler() {
            @Override public void publish(LogRecord r) {
                logged.add(java.text.MessageFormat.format(r.getMessage(), r.getParameters()));
            }

            @Override public void flush() {}

            @Override public void close() {}
        };
        Logger log = Logger.getLogger(SecretDirectory.class.getName());
        log.addHandler(handler);
        try (BackingStore again = Stores.open(file)) {
            SecretDirectory dir = SecretDirectory.open(again);
            checkServed(page, dir, marked, "file stopped after " + k + " steps");
        } finally {
            log.removeHandler(handler);
        }
        byte[] after = Files.readAllBytes(file);
        SecretEntry v = page.victim;
        if (marked) {
            assertThat(entryZeroed(after, v)).as("the entry's GUID and data are zero").isTrue();
            if (wiping) {
                assertThat(logged).anyMatch(l -> l.contains("entry at offset " + v.offset())
                        && l.contains("finished a wipe that was cut short"));
            }
        } else {
            assertThat(after).isEqualTo(page.bytes);
            assertThat(logged).noneMatch(l -> l.contains("cut short"));
        }
        assertThat(after.length).isEqualTo(page.bytes.length);
    }
}
