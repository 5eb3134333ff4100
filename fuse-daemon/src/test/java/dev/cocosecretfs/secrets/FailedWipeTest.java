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
import dev.cocosecretfs.testing.ForwardingStore;
import dev.cocosecretfs.testing.SecretPage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A wipe that fails at any step keeps the secret listed, and from then on it reads as an error rather
 * than as bytes that may be part zeros; unlinking it again finishes the wipe, even when the failed
 * attempt got as far as zeroing the GUID. A read-only store refuses before writing, so its secret
 * stays readable. A page changed under the directory is neither read nor written.
 *
 * <p>The faulty store knows each step of a wipe by the range it writes (the victim's mark, data or
 * the rest of its GUID; any other range fails the test), never by its length alone: the data of a
 * secret of 8 or 16 bytes is as long as a part of the GUID.
 */
@DisplayName("failed wipes")
class FailedWipeTest {
    @TempDir
    Path tmp;

    SecretPage page;
    Path file;
    BackingStore real;
    /** The page as written, and its entries: what the checks compare against. */
    byte[] original;
    List<SecretEntry> entries;
    /** The entry whose wipe the tests make fail. */
    int victim = 1;
    /**
     * Which call of the faulty store fails: "mark" (the GUID's first 8 bytes), "data", "guid" (its
     * last 8 bytes), "sync" (the first), or none.
     */
    String failAt;
    boolean writable = true;

    /** A page of three secrets of {@code length} bytes, and the real store on it. */
    void open(int length) throws Exception {
        page = SecretPage.random(3, length, 4096);
        file = page.write(tmp.resolve("page.bin"));
        original = Files.readAllBytes(file);
        entries = SecretTable.parse(ByteBuffer.wrap(original)).entries();
        real = Stores.open(file);
    }

    @AfterEach
    void tearDown() throws IOException {
        if (real != null) {
            real.close();
        }
    }

    /**
     * Which step of the victim's wipe a wipe of {@code length} bytes at {@code offset} is: exactly the
     * range of one of the three, or the test fails.
     */
    String step(long offset, long length) {
        SecretEntry e = entries.get(victim);
        int mark = SecretDirectory.MARK_BYTES;
        if (offset == e.offset() && length == mark) {
            return "mark";
        }
        if (offset == e.dataOffset() && length == e.dataLength()) {
            return "data";
        }
        if (offset == e.offset() + mark && length == Guid.BYTES - mark) {
            return "guid";
        }
        throw new AssertionError("a wipe of " + length + " bytes at offset " + offset
                + " is none of the steps of the wipe of the entry at offset " + e.offset());
    }

    /** The real store, failing once at {@link #failAt}. */
    BackingStore faulty() {
        return new ForwardingStore(real) {
            @Override
            public void wipe(long offset, long length) throws IOException {
                String step = step(offset, length);
                if (!writable || step.equals(failAt)) {
                    failAt = null;
                    throw new IOException("injected failure of the " + step + " wipe");
                }
                real.wipe(offset, length);
            }

            @Override
            public boolean writable() {
                return writable;
            }

            @Override
            public void sync() throws IOException {
                if ("sync".equals(failAt)) {
                    failAt = null;
                    throw new IOException("injected failure of sync");
                }
                real.sync();
            }

            @Override
            public String describe() {
                return "faulty " + file;
            }
        };
    }

    int read(SecretDirectory dir, Secret s) throws IOException {
        long buf = NativeMemory.allocate(64);
        try {
            return dir.read(s, 0, 64, buf);
        } finally {
            NativeMemory.free(buf);
        }
    }

    void failedThenFinished(String step, int length) throws Exception {
        open(length);
        SecretDirectory dir = SecretDirectory.open(faulty());
        String name = page.names.get(victim);
        Secret secret = dir.lookup(name).orElseThrow();
        assertThat(read(dir, secret)).isEqualTo(length);
        failAt = step;
        assertThatThrownBy(() -> dir.wipe(name)).hasMessageContaining("injected failure of");
        zeroBefore(step);
        assertThat(dir.names()).contains(name);
        assertThatThrownBy(() -> read(dir, secret)).isInstanceOf(FileSystemException.class)
                .hasMessageContaining("may be partly wiped by a failed unlink");
        dir.wipe(name);
        assertThat(dir.names()).doesNotContain(name);
        assertThat(read(dir, secret)).isZero();
        page.checkOnlyWiped(Files.readAllBytes(file), Set.of(victim));
    }

    /**
     * Fails, naming the first byte that differs, unless the page is as written but for what the
     * steps before the one that failed zeroed: the mark when the sync after it or the data fails, the
     * mark and the data when the rest of the GUID fails, nothing when the mark fails.
     */
    void zeroBefore(String failed) throws IOException {
        SecretEntry e = entries.get(victim);
        byte[] expected = original.clone();
        if (!failed.equals("mark")) {
            Arrays.fill(expected, (int) e.offset(), (int) e.offset() + SecretDirectory.MARK_BYTES, (byte) 0);
        }
        if (failed.equals("guid")) {
            Arrays.fill(expected, (int) e.dataOffset(), (int) (e.dataOffset() + e.dataLength()), (byte) 0);
        }
        byte[] after = Files.readAllBytes(file);
        int differs = Arrays.mismatch(after, expected);
        assertThat(differs).as("page byte %d after the %s step failed (the victim's entry is at %d, its data at %d)",
                differs, failed, e.offset(), e.dataOffset()).isEqualTo(-1);
    }

    @ParameterizedTest(name = "{0}-byte secrets")
    @ValueSource(ints = {8, 16, 40})
    @DisplayName("the mark (the GUID's first 8 bytes) fails: the secret stays, reads fail, a second unlink finishes")
    void markFails(int length) throws Exception {
        failedThenFinished("mark", length);
    }

    @ParameterizedTest(name = "{0}-byte secrets")
    @ValueSource(ints = {8, 16, 40})
    @DisplayName("the data wipe fails: the secret stays, reads fail, a second unlink finishes")
    void dataWipeFails(int length) throws Exception {
        failedThenFinished("data", length);
    }

    @ParameterizedTest(name = "{0}-byte secrets")
    @ValueSource(ints = {8, 16, 40})
    @DisplayName("the wipe of the GUID's last 8 bytes fails after the data is zero: reads fail, a second unlink finishes")
    void guidWipeFails(int length) throws Exception {
        failedThenFinished("guid", length);
    }

    @ParameterizedTest(name = "{0}-byte secrets")
    @ValueSource(ints = {8, 16, 40})
    @DisplayName("the first sync fails, after the mark: a second unlink still finishes")
    void syncFails(int length) throws Exception {
        failedThenFinished("sync", length);
    }

    @Test
    @DisplayName("a read-only store: the wipe is refused, the secret stays readable")
    void readOnly() throws Exception {
        open(40);
        writable = false;
        victim = 0;
        SecretDirectory dir = SecretDirectory.open(faulty());
        String name = page.names.get(victim);
        assertThatThrownBy(() -> dir.wipe(name)).isInstanceOf(IOException.class);
        assertThat(read(dir, dir.lookup(name).orElseThrow())).isEqualTo(40);
        page.checkOnlyWiped(Files.readAllBytes(file), Set.of());
    }

    @Test
    @DisplayName("another table written under the directory: reads and wipes refused, nothing written")
    void pageChangedUnderneath() throws Exception {
        open(40);
        SecretDirectory dir = SecretDirectory.open(real);
        Secret secret = dir.lookup(page.names.get(2)).orElseThrow();
        SecretPage other = SecretPage.random(3, 40, 4096);
        other.write(file);
        assertThatThrownBy(() -> read(dir, secret)).hasMessageContaining("the backing changed under the mount");
        assertThatThrownBy(() -> dir.wipe(page.names.get(2))).hasMessageContaining("the backing changed");
        other.checkOnlyWiped(Files.readAllBytes(file), Set.of());
    }
}
