// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.secrets.SecretDirectory;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretTable;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * readdir in libfuse's offset mode, driven as libfuse drives it: each call fills a reply until the
 * filler says it is full, and the next call starts at the offset of the last entry that fitted.
 */
@DisplayName("readdir")
class SecretFsReaddirTest {
    @TempDir
    Path tmp;

    /** A filler with room for {@code room} entries per reply, recording names and offsets. */
    static final class Reply implements SecretFs.DirectorySink {
        final int room;
        final List<String> names = new ArrayList<>();
        final List<Long> offsets = new ArrayList<>();

        Reply(int room) {
            this.room = room;
        }

        @Override
        public boolean add(String name, long node, int mode, long nextOffset) {
            if (names.size() == room) {
                return false;
            }
            names.add(name);
            offsets.add(nextOffset);
            return true;
        }
    }

    @Test
    @DisplayName("replies resume where the last ended; a secret wiped in between moves nothing and repeats nothing")
    void resumesByOffset() throws Exception {
        Map<Guid, ByteBuffer> secrets = new LinkedHashMap<>();
        for (int i = 1; i <= 10; i++) {
            secrets.put(new Guid(0x1000L * (11 - i), i), ByteBuffer.wrap(new byte[] {(byte) i}));
        }
        Path page = tmp.resolve("page.bin");
        Files.write(page, SecretTable.write(secrets, 4096));
        try (BackingStore store = Stores.open(page)) {
            SecretDirectory directory = SecretDirectory.open(store);
            SecretFs fs = new SecretFs(directory, Ownership.DEFAULT);
            List<String> sorted = directory.names();
            assertThat(sorted).isSorted().hasSize(10);

            List<String> seen = new ArrayList<>();
            long offset = 0;
            int calls = 0;
            while (true) {
                assertThat(calls).as("a listing of 12 entries ends").isLessThan(20);
                Reply reply = new Reply(4);
                fs.list(offset, reply);
                calls++;
                if (reply.names.isEmpty()) {
                    break;
                }
                seen.addAll(reply.names);
                offset = reply.offsets.get(reply.offsets.size() - 1);
                if (calls == 2) {
                    directory.wipe(sorted.get(6)); // not yet listed
                    directory.wipe(sorted.get(0)); // listed already
                }
            }
            List<String> expected = new ArrayList<>(List.of(".", ".."));
            expected.addAll(sorted);
            expected.remove(sorted.get(6));
            assertThat(seen).containsExactlyElementsOf(expected);
            assertThat(calls).isEqualTo(4); // 12 entries, 4 a reply, then an empty one

            Reply again = new Reply(100);
            fs.list(0, again);
            assertThat(again.names).hasSize(10).doesNotContain(sorted.get(0), sorted.get(6));
            assertThat(again.offsets).isSorted().doesNotHaveDuplicates().doesNotContain(0L);
        }
    }
}
