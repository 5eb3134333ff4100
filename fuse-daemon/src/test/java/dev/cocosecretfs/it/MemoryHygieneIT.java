// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.LeakyMount;
import dev.cocosecretfs.testing.MemoryScanner;
import dev.cocosecretfs.testing.Nobody;
import dev.cocosecretfs.testing.Result;
import dev.cocosecretfs.testing.SecretPage;
import dev.cocosecretfs.testing.Sys;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No copy of a secret stays in the daemon's memory once it is idle, after reads of every kind and
 * deletions, started as users start it; the process cannot be dumped or read by its own user.
 *
 * <p>The scan reads every readable mapping of the daemon through /proc/PID/mem and looks for every
 * 8-byte window of every secret. Two controls keep it from passing for the wrong reason: in the same
 * scan, a random marker the daemon holds (its mount point's name) must be found; and the same
 * workload against the read path the daemon had before (libfuse's own reply buffers, {@link
 * LeakyMount}) must leave secrets the scan finds.
 */
@DisplayName("memory hygiene")
class MemoryHygieneIT {
    static final int SECRETS = 100;
    static final int SECRET_BYTES = 32;
    /** Reads at (count, offset), beside 1-byte reads at every offset: whole, tails of sizes 16k+1..16k+8, big. */
    static final long[][] PREADS = {
        {32, 0}, {24, 0}, {24, 8}, {17, 15}, {16, 16}, {8, 24}, {40, 0}, {33, 0}, {200, 0}, {1000, 0}, {131072, 0}};
    static final int ROUNDS = 2;

    @TempDir
    Path tmp;

    SecretPage page;
    Path backing;
    String marker;
    Path mnt;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        assumeTrue(isRoot(), "skipped: reading another process's memory needs root");
        page = SecretPage.random(SECRETS, SECRET_BYTES, 8192);
        backing = page.write(tmp.resolve("page.bin"));
        marker = randomToken();
        mnt = Files.createDirectory(tmp.resolve("mnt-" + marker));
    }

    static boolean isRoot() throws Exception {
        return Files.readString(Path.of("/proc/self/status")).contains("\nUid:\t0\t");
    }

    static String randomToken() {
        SecureRandom random = new SecureRandom();
        StringBuilder token = new StringBuilder();
        while (token.length() < SECRET_BYTES) {
            token.append("abcdefghijklmnopqrstuvwxyz0123456789".charAt(random.nextInt(36)));
        }
        return token.toString();
    }

    @Test
    @DisplayName("java -jar: no secret in the daemon's memory after reads and deletions")
    void plainJar() throws Exception {
        noSecretLeftInMemory(CocoDaemon.Start.JAR);
    }

    @Test
    @DisplayName("dist/coco-secretfs: no secret in the daemon's memory after reads and deletions")
    void launcher() throws Exception {
        assumeTrue(CocoDaemon.launcher().isPresent(), "skipped: this tree has no dist/coco-secretfs launcher");
        noSecretLeftInMemory(CocoDaemon.Start.LAUNCHER);
    }

    private void noSecretLeftInMemory(CocoDaemon.Start how) throws Exception {
        Set<Integer> deleted = new TreeSet<>();
        try (CocoDaemon d = CocoDaemon.mount(how, backing, mnt)) {
            long reads = workload(d.mountPoint, deleted);
            d.awaitIdle();
            MemoryScanner.Result r = scanner().scan(d.pid());
            List<MemoryScanner.Hit> secretHits = r.hits().stream().filter(h -> h.pattern() < SECRETS).toList();
            System.out.printf("memory hygiene (%s): %d reads of %d secrets, %d deleted; scanned %d MB in %d mappings"
                    + " of pid %d: %d of %d secrets found (%d windows); control marker found %d times%n",
                    how, reads, SECRETS, deleted.size(), r.bytesScanned() >> 20, r.mappingsScanned(), d.pid(),
                    r.patternsFound().stream().filter(p -> p < SECRETS).count(), SECRETS, secretHits.size(),
                    r.hitsOf(SECRETS).size());

            assertThat(r.unreadable()).as("mappings the scan could not read").isEmpty();
            assertThat(r.hitsOf(SECRETS)).as("control: the random name of the mount point, which the daemon holds")
                    .isNotEmpty();
            assertThat(secretHits).as("windows of secrets (pattern = index of the secret) in the daemon's memory")
                    .isEmpty();
            assertThat(d.log()).as("the daemon's log").doesNotContain("warning:");
            assertThat(limit(d.pid(), "Max core file size")).as("RLIMIT_CORE soft and hard").containsExactly("0", "0");
            assertThat(status(d.pid(), "VmLck")).as("locked memory: none, by design (no mlockall)").isEqualTo("0 kB");
            assertThat(d.stop()).isZero();
        }
        page.checkOnlyWiped(Files.readAllBytes(backing), deleted);
    }

    @Test
    @DisplayName("control: the same workload against libfuse's own reply buffers leaves secrets the scan finds")
    void controlFindsWhatTheOldReadPathLeft() throws Exception {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), LeakyMount.class.getName(), backing.toString(),
                mnt.toString());
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            assertThat(out.readLine()).as("the control mount's first line").isEqualTo("mounted");
            assertThat(MountTable.at(mnt.toRealPath())).isPresent();
            long reads = workload(mnt.toRealPath(), new TreeSet<>());
            CocoDaemon.awaitIdle(p.pid());
            MemoryScanner.Result r = scanner().scan(p.pid());
            long found = r.patternsFound().stream().filter(i -> i < SECRETS).count();
            System.out.printf("memory hygiene control (read into libfuse's buffer, M_PERTURB, tcache on): %d reads;"
                    + " %d of %d secrets found in %d MB%n", reads, found, SECRETS, r.bytesScanned() >> 20);
            assertThat(found).as("secrets the scan finds where the old read path left them").isPositive();
        } finally {
            p.destroy();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            if (MountTable.at(mnt.toRealPath()).isPresent()) {
                new ProcessBuilder("umount", "-l", mnt.toString()).start().waitFor();
            }
        }
    }

    @Test
    @DisplayName("not dumpable: another process of the daemon's own user cannot read its memory")
    void notDumpable() throws Exception {
        // Run as uid 65534, so that being root does not open every door: the page, the jar and the
        // mount point must be reachable for that user.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(backing, PosixFilePermissions.fromString("rw-r--r--"));
        Path jar = Files.copy(CocoDaemon.jar(), tmp.resolve("coco-secretfs.jar"));
        Files.setPosixFilePermissions(jar, PosixFilePermissions.fromString("rw-r--r--"));
        Files.setAttribute(mnt, "unix:uid", Nobody.UID);
        Process sleeper = new ProcessBuilder(Nobody.command(List.of("sleep", "120"))).start();
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.JAR, jar, Nobody.SETPRIV, Map.of(), backing, mnt)) {
            assertThat(status(d.pid(), "Uid")).startsWith("65534\t");
            assertThat(Files.getAttribute(Path.of("/proc/" + sleeper.pid() + "/mem"), "unix:uid"))
                    .as("control: a process of uid 65534 owns its /proc files").isEqualTo(65534);
            assertThat(Files.getAttribute(Path.of("/proc/" + d.pid() + "/mem"), "unix:uid"))
                    .as("a process that is not dumpable has its /proc files owned by root").isEqualTo(0);
            Result control = Nobody.run("head", "-c", "1", "/proc/" + sleeper.pid() + "/environ");
            assertThat(control.exit()).as("control: uid 65534 reads its own process's environ: " + control.err())
                    .isZero();
            for (String file : List.of("environ", "mem", "maps")) {
                Result r = Nobody.run("head", "-c", "1", "/proc/" + d.pid() + "/" + file);
                assertThat(r.exit()).as("uid 65534 reading the daemon's " + file).isNotZero();
                assertThat(r.err()).contains("Permission denied");
            }
            assertThat(limit(d.pid(), "Max core file size")).containsExactly("0", "0");
            assertThat(d.stop()).isZero();
        } finally {
            sleeper.destroyForcibly();
        }
    }

    private MemoryScanner scanner() {
        List<byte[]> patterns = new ArrayList<>(page.secrets);
        patterns.add(marker.getBytes(StandardCharsets.US_ASCII)); // pattern SECRETS
        return new MemoryScanner(patterns);
    }

    /**
     * Reads every secret as cat does, at offsets, in pieces of awkward sizes and a byte at a time,
     * checking each answer; then deletes every other secret. Returns the number of read calls.
     */
    long workload(Path mountPoint, Set<Integer> deleted) throws Exception {
        List<String> cat = new ArrayList<>(List.of("cat"));
        page.names.forEach(n -> cat.add(mountPoint.resolve(n).toString()));
        Process p = new ProcessBuilder(cat).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertThat(p.waitFor()).as("cat of every secret").isZero();
        long reads = 2L * SECRETS; // cat: one read of the secret and one at its end, per file
        Sys c = Sys.C;
        byte[] buf = new byte[131072];
        for (int round = 0; round < ROUNDS; round++) {
            for (int i = 0; i < SECRETS; i++) {
                int fd = c.open(Sys.path(mountPoint.resolve(page.names.get(i)).toString()), Sys.O_RDONLY, 0);
                if (fd < 0) {
                    fail("open of secret %s: errno %d", page.names.get(i), Sys.errno());
                }
                try {
                    for (long[] r : PREADS) {
                        page.checkRead(i, r[1], r[0], buf, c.pread(fd, buf, r[0], r[1]), "pread");
                        reads++;
                    }
                    for (int off = 0; off < page.length(i); off++) {
                        page.checkRead(i, off, 1, buf, c.pread(fd, buf, 1, off), "1-byte pread");
                        reads++;
                    }
                } finally {
                    c.close(fd);
                }
            }
        }
        for (int i = 0; i < SECRETS; i += 2) {
            byte[] path = Sys.path(mountPoint.resolve(page.names.get(i)).toString());
            assertThat(c.unlink(path)).as("unlink").isZero();
            assertThat(c.open(path, Sys.O_RDONLY, 0)).isEqualTo(-1);
            assertThat(Sys.errno()).isEqualTo(Sys.ENOENT);
            deleted.add(i);
        }
        Arrays.fill(buf, (byte) 0);
        return reads;
    }

    /** The soft and hard value of a line of /proc/PID/limits. */
    static List<String> limit(long pid, String name) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/limits"))) {
            if (line.startsWith(name)) {
                String[] f = line.substring(name.length()).trim().split("\\s+");
                return List.of(f[0], f[1]);
            }
        }
        throw new AssertionError("no " + name + " in /proc/" + pid + "/limits");
    }

    /** The value of a field of /proc/PID/status. */
    static String status(long pid, String field) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith(field + ":")) {
                return line.substring(field.length() + 1).trim();
            }
        }
        throw new AssertionError("no " + field + " in /proc/" + pid + "/status");
    }
}
