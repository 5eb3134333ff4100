// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretTable;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.Result;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The most entries the daemon serves ({@link SecretTable#MAX_ENTRIES}) mount, list, read and wipe
 * under the launcher's 16 MB heap; one entry more is refused up front with one line and exit 65.
 * Never an OutOfMemoryError, as EIO or as a stack trace.
 */
@DisplayName("the largest page the daemon serves")
class LargePageIT {
    static final SecureRandom RANDOM = new SecureRandom();

    @TempDir
    Path tmp;

    Path mnt;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        assumeTrue(CocoDaemon.launcher().isPresent(), "skipped: no dist/coco-secretfs beside the jar's tree");
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    /**
     * A page of {@code count} entries, the first holding 32 random bytes and the rest none (the worst
     * case: the most entries a page of that size can have), written without going through pack.
     */
    static List<Object> page(Path file, int count, Set<String> names) throws Exception {
        ByteBuffer page = ByteBuffer.allocate(SecretTable.HEADER_BYTES + 32 + 20 * count).order(ByteOrder.LITTLE_ENDIAN);
        SecretTable.HEADER_GUID.writeEfi(page);
        page.putInt(page.capacity());
        byte[] secret = new byte[32];
        RANDOM.nextBytes(secret);
        Guid first = null;
        while (names.size() < count) {
            Guid g = new Guid(RANDOM.nextLong() & ~0xf000L | 0x4000L, RANDOM.nextLong() & ~(3L << 62) | 1L << 63);
            if (!names.add(g.toString())) {
                continue;
            }
            g.writeEfi(page);
            page.putInt(first == null ? 20 + secret.length : 20);
            if (first == null) {
                first = g;
                page.put(secret);
            }
        }
        Files.write(file, page.array());
        return List.of(first, secret);
    }

    /** Runs the launcher (its JVM flags: -Xmx16m) to the end. */
    static Result launcher(String... args) throws Exception {
        return CocoDaemon.run(CocoDaemon.Start.LAUNCHER, args);
    }

    @Test
    @DisplayName("131,072 entries: mounted, listed whole, read and wiped with -Xmx16m")
    void theMostItServes() throws Exception {
        Path backing = tmp.resolve("page.bin");
        Set<String> names = new HashSet<>();
        List<Object> first = page(backing, SecretTable.MAX_ENTRIES, names);
        String name = first.get(0).toString();
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.LAUNCHER, backing, mnt)) {
            for (int round = 0; round < 2; round++) {
                Set<String> listed = new HashSet<>();
                int entries = 0;
                try (Stream<Path> s = Files.list(mnt)) {
                    for (Path p : (Iterable<Path>) s::iterator) {
                        listed.add(p.getFileName().toString());
                        entries++;
                    }
                }
                assertThat(entries).as("round %d: no name twice", round).isEqualTo(listed.size());
                assertThat(listed.equals(names)).as("round %d: every name listed, no other", round).isTrue();
            }
            assertThat(java.util.Arrays.equals(Files.readAllBytes(mnt.resolve(name)), (byte[]) first.get(1)))
                    .as("the secret reads whole").isTrue();
            Files.delete(mnt.resolve(name));
            names.remove(name);
            try (Stream<Path> s = Files.list(mnt)) {
                assertThat(s.count()).isEqualTo(SecretTable.MAX_ENTRIES - 1);
            }
            long rss = Files.readAllLines(Path.of("/proc", String.valueOf(d.pid()), "status")).stream()
                    .filter(l -> l.startsWith("VmRSS:")).map(l -> l.replaceAll("[^0-9]", "")).mapToLong(Long::parseLong)
                    .findFirst().orElse(-1);
            System.out.printf("LargePageIT: %d entries mounted, listed twice, one read and wiped; RSS %d kB%n",
                    SecretTable.MAX_ENTRIES, rss);
            assertThat(d.log()).doesNotContain("OutOfMemoryError").doesNotContain("Exception").doesNotContain("failed");
            assertThat(d.stop()).isZero();
        }
    }

    @Test
    @DisplayName("one entry more: mount and inspect refuse it with one line and exit 65, nothing mounted")
    void oneMoreIsRefused() throws Exception {
        Path backing = tmp.resolve("page.bin");
        page(backing, SecretTable.MAX_ENTRIES + 1, new HashSet<>());
        byte[] before = Files.readAllBytes(backing);
        long last = SecretTable.HEADER_BYTES + 32 + 20L * SecretTable.MAX_ENTRIES;
        String line = "coco-secretfs: " + backing + ": entry at offset " + last + " is entry "
                + (SecretTable.MAX_ENTRIES + 1) + ": coco-secretfs serves at most " + SecretTable.MAX_ENTRIES
                + " entries in a table";
        for (String command : new String[] {"mount", "inspect"}) {
            Result r = command.equals("mount")
                    ? launcher("mount", "--backing", backing.toString(), mnt.toString())
                    : launcher("inspect", backing.toString());
            assertThat(r.exit()).as(command).isEqualTo(65);
            assertThat(r.errLines()).as(command).containsExactly(line);
        }
        assertThat(MountTable.at(mnt.toRealPath())).isEmpty();
        assertThat(java.util.Arrays.equals(Files.readAllBytes(backing), before)).as("the page is untouched").isTrue();
    }
}
