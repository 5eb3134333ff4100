// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cocosecretfs.platform.NativeMemory;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretTable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecretDirectoryTest {
    static final String A = "736869e5-84f0-4973-92ec-06879ce3da0b";
    static final String B = "e6f5a162-d67f-4750-a67c-5d065f2a9910";

    @TempDir
    Path tmp;

    Path page;
    BackingStore store;
    SecretDirectory directory;

    @BeforeEach
    void setUp() throws Exception {
        Map<Guid, ByteBuffer> secrets = new LinkedHashMap<>();
        secrets.put(Guid.parse(A), ByteBuffer.wrap("passphrase-one".getBytes(StandardCharsets.US_ASCII)));
        secrets.put(Guid.parse(B), ByteBuffer.wrap("{\"k\":\"v\"}".getBytes(StandardCharsets.US_ASCII)));
        page = tmp.resolve("page.bin");
        Files.write(page, SecretTable.write(secrets, 4096));
        store = Stores.open(page);
        directory = SecretDirectory.open(store);
    }

    @AfterEach
    void tearDown() throws IOException {
        store.close();
    }

    private static String read(SecretDirectory dir, Secret s, long offset, long size) throws IOException {
        long buf = NativeMemory.allocate(Math.max(size, 1));
        try {
            int n = dir.read(s, offset, size, buf);
            return new String(NativeMemory.get(buf, n), StandardCharsets.US_ASCII);
        } finally {
            NativeMemory.free(buf);
        }
    }

    @Test
    void listsAndReadsTheLiveSecrets() throws Exception {
        assertThat(directory.names()).containsExactly(A, B);
        Secret a = directory.lookup(A).orElseThrow();
        assertThat(a.length()).isEqualTo(14);
        assertThat(read(directory, a, 0, 4096)).isEqualTo("passphrase-one");
    }

    @Test
    void readsClampOffsetAndSize() throws Exception {
        Secret a = directory.lookup(A).orElseThrow();
        assertThat(read(directory, a, 11, 100)).isEqualTo("one");
        assertThat(read(directory, a, 3, 2)).isEqualTo("sp");
        assertThat(read(directory, a, 14, 10)).isEmpty();
        assertThat(read(directory, a, Long.MAX_VALUE, 10)).isEmpty();
        assertThat(read(directory, a, 0, 0)).isEmpty();
    }

    @Test
    void wipeZeroesDataAndGuidOnlyAndDropsTheSecret() throws Exception {
        byte[] before = Files.readAllBytes(page);
        Secret a = directory.lookup(A).orElseThrow();

        directory.wipe(A);

        byte[] after = Files.readAllBytes(page);
        for (int i = 0; i < before.length; i++) {
            boolean wiped = (i >= 20 && i < 36) || (i >= 40 && i < 54);
            assertThat(after[i]).as("byte %d", i).isEqualTo(wiped ? 0 : before[i]);
        }
        assertThat(directory.names()).containsExactly(B);
        assertThat(directory.lookup(A)).isEmpty();
        assertThat(read(directory, a, 0, 100)).as("a handle opened before the wipe reads empty").isEmpty();
        assertThat(SecretDirectory.open(store).names()).containsExactly(B);
    }

    @Test
    void onlyTheExactNameFindsASecret() {
        assertThat(directory.lookup(A)).isPresent();
        for (String other : new String[] {A.toUpperCase(java.util.Locale.ROOT), A + " ", "/" + A, A.substring(1), ""}) {
            assertThat(directory.lookup(other)).as("%s", other).isEmpty();
            assertThatThrownBy(() -> directory.wipe(other)).isInstanceOf(NoSuchFileException.class);
        }
    }

    @Test
    void theListingKeepsItsPositionsAcrossWipes() throws Exception {
        assertThat(directory.listingSize()).isEqualTo(2);
        assertThat(directory.listed(0)).isEqualTo(A);
        assertThat(directory.listed(1)).isEqualTo(B);
        int index = directory.lookup(A).orElseThrow().index();
        directory.wipe(A);
        assertThat(directory.listingSize()).isEqualTo(2);
        assertThat(directory.listed(0)).isNull();
        assertThat(directory.listed(1)).isEqualTo(B);
        assertThat(directory.size()).isEqualTo(1);
        assertThat(directory.listedSecret(0)).isEmpty();
        assertThat(directory.listedSecret(1).orElseThrow().name()).isEqualTo(B);
        Secret byIndex = directory.byIndex(index).orElseThrow();
        assertThat(byIndex.name()).isEqualTo(A);
        assertThat(read(directory, byIndex, 0, 100)).isEmpty();
        assertThat(directory.byIndex(-1)).isEmpty();
        assertThat(directory.byIndex(2)).isEmpty();
    }

    @Test
    void wipingTwiceOrAnUnknownNameIsNoSuchFile() throws Exception {
        directory.wipe(A);
        assertThatThrownBy(() -> directory.wipe(A)).isInstanceOf(NoSuchFileException.class);
        assertThatThrownBy(() -> directory.wipe("nope")).isInstanceOf(NoSuchFileException.class);
    }
}
