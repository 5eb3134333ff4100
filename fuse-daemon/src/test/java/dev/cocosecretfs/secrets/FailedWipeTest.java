// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cocosecretfs.platform.NativeMemory;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import dev.cocosecretfs.testing.ForwardingStore;
import dev.cocosecretfs.testing.SecretPage;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A wipe that fails at any step keeps the secret listed, and from then on it reads as an error rather
 * than as bytes that may be part zeros; unlinking it again finishes the wipe, even when the failed
 * attempt got as far as zeroing the GUID. A read-only store refuses before writing, so its secret
 * stays readable. A page changed under the directory is neither read nor written.
 */
@DisplayName("failed wipes")
class FailedWipeTest {
    @TempDir
    Path tmp;

    SecretPage page;
    Path file;
    BackingStore real;
    /**
     * Which call of the faulty store fails: "mark" (the GUID's first 8 bytes), "data", "guid" (its
     * last 8 bytes), "sync" (the first), or none.
     */
    String failAt;
    boolean writable = true;

    @BeforeEach
    void setUp() throws Exception {
        page = SecretPage.random(3, 40, 4096);
        file = page.write(tmp.resolve("page.bin"));
        real = Stores.open(file);
    }

    @AfterEach
    void tearDown() throws IOException {
        real.close();
    }

    /** The real store, failing once at {@link #failAt}. */
    BackingStore faulty() {
        return new ForwardingStore(real) {
            @Override
            public void wipe(long offset, long length) throws IOException {
                long entry = page.entries.get(1).offset();
                String step = offset == entry ? "mark" : offset == entry + 8 ? "guid" : "data";
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

    void failedThenFinished(String step) throws Exception {
        SecretDirectory dir = SecretDirectory.open(faulty());
        String name = page.names.get(1);
        Secret secret = dir.lookup(name).orElseThrow();
        assertThat(read(dir, secret)).isEqualTo(40);
        failAt = step;
        assertThatThrownBy(() -> dir.wipe(name)).hasMessageContaining("injected failure of");
        assertThat(dir.names()).contains(name);
        assertThatThrownBy(() -> read(dir, secret)).isInstanceOf(FileSystemException.class)
                .hasMessageContaining("may be partly wiped by a failed unlink");
        dir.wipe(name);
        assertThat(dir.names()).doesNotContain(name);
        assertThat(read(dir, secret)).isZero();
        page.checkOnlyWiped(Files.readAllBytes(file), Set.of(1));
    }

    @Test
    @DisplayName("the mark (the GUID's first 8 bytes) fails: the secret stays, reads fail, a second unlink finishes")
    void markFails() throws Exception {
        failedThenFinished("mark");
    }

    @Test
    @DisplayName("the data wipe fails: the secret stays, reads fail, a second unlink finishes")
    void dataWipeFails() throws Exception {
        failedThenFinished("data");
    }

    @Test
    @DisplayName("the wipe of the GUID's last 8 bytes fails after the data is zero: reads fail, a second unlink finishes")
    void guidWipeFails() throws Exception {
        failedThenFinished("guid");
    }

    @Test
    @DisplayName("the first sync fails, after the mark: a second unlink still finishes")
    void syncFails() throws Exception {
        failedThenFinished("sync");
    }

    @Test
    @DisplayName("a read-only store: the wipe is refused, the secret stays readable")
    void readOnly() throws Exception {
        writable = false;
        SecretDirectory dir = SecretDirectory.open(faulty());
        String name = page.names.get(0);
        assertThatThrownBy(() -> dir.wipe(name)).isInstanceOf(IOException.class);
        assertThat(read(dir, dir.lookup(name).orElseThrow())).isEqualTo(40);
        page.checkOnlyWiped(Files.readAllBytes(file), Set.of());
    }

    @Test
    @DisplayName("another table written under the directory: reads and wipes refused, nothing written")
    void pageChangedUnderneath() throws Exception {
        SecretDirectory dir = SecretDirectory.open(real);
        Secret secret = dir.lookup(page.names.get(2)).orElseThrow();
        SecretPage other = SecretPage.random(3, 40, 4096);
        other.write(file);
        assertThatThrownBy(() -> read(dir, secret)).hasMessageContaining("the backing changed under the mount");
        assertThatThrownBy(() -> dir.wipe(page.names.get(2))).hasMessageContaining("the backing changed");
        other.checkOnlyWiped(Files.readAllBytes(file), Set.of());
    }
}
