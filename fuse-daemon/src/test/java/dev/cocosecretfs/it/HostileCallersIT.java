// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.SecretPage;
import dev.cocosecretfs.testing.Sys;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Callers that send the mount what no well-behaved program would: odd names, deleted names, offsets
 * near 2^63, thousands of descriptors. Each gets the exact answer, and the daemon is alive and
 * serving at the end. One mount serves the whole class; each test uses secrets of its own. A case
 * named "kernel: ..." proves what the kernel answers before the call reaches the daemon: what a
 * caller sees, not something the daemon does.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@DisplayName("hostile callers")
class HostileCallersIT {
    static final long LLONG_MAX = Long.MAX_VALUE;
    /** Secret used by the tests that only read. */
    static final int READ = 0;
    /** Secret deleted by {@link #deletedEntries()}. */
    static final int DELETED = 1;
    /** Secret deleted while thousands of descriptors hold it. */
    static final int HELD = 2;

    @TempDir
    static Path tmp;

    SecretPage page;
    Path backing;
    CocoDaemon daemon;
    Path mnt;
    final Set<Integer> deleted = new TreeSet<>();
    final Sys c = Sys.C;

    @BeforeAll
    void mount() throws Exception {
        CocoDaemon.assumeFuse();
        page = SecretPage.random(6, 48, 4096);
        backing = page.write(tmp.resolve("page.bin"));
        daemon = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, Files.createDirectory(tmp.resolve("mnt")));
        mnt = daemon.mountPoint;
    }

    @AfterAll
    void aliveAndExact() throws Exception {
        if (daemon == null) {
            return;
        }
        try (CocoDaemon d = daemon) {
            assertThat(daemon.process.isAlive()).as("the daemon survived").isTrue();
            try (Stream<Path> names = Files.list(mnt)) {
                List<String> expected = new ArrayList<>();
                for (int i = 0; i < page.size(); i++) {
                    if (!deleted.contains(i)) {
                        expected.add(page.names.get(i));
                    }
                }
                assertThat(names.map(p -> p.getFileName().toString()).sorted()).containsExactlyElementsOf(
                        expected.stream().sorted().toList());
            }
            for (int i = 0; i < page.size(); i++) {
                if (!deleted.contains(i)) {
                    readWhole(i);
                }
            }
            assertThat(daemon.log()).as("the daemon's log").doesNotContain("internal error").doesNotContain("Exception");
            assertThat(daemon.stop()).isZero();
        }
        page.checkOnlyWiped(Files.readAllBytes(backing), deleted);
    }

    String file(int i) {
        return mnt.resolve(page.names.get(i)).toString();
    }

    /** Opens, fails the test on error. */
    int open(String path) {
        int fd = c.open(Sys.path(path), Sys.O_RDONLY, 0);
        if (fd < 0) {
            fail("open %s: errno %d", path, Sys.errno());
        }
        return fd;
    }

    void readWhole(int i) {
        int fd = open(file(i));
        try {
            byte[] buf = new byte[4096];
            page.checkRead(i, 0, buf.length, buf, c.pread(fd, buf, buf.length, 0), "read");
        } finally {
            c.close(fd);
        }
    }

    /** Asserts a call returned -1 with that errno. */
    static void assertErrno(String what, long result, int errno) {
        int actual = Sys.errno();
        assertThat(result).as(what + ": result").isEqualTo(-1);
        assertThat(actual).as(what + ": errno").isEqualTo(errno);
    }

    @Test
    @DisplayName("kernel: '..' and '.' never reach the daemon: the parent, ENOTDIR under a file, EISDIR to unlink")
    void dotDot() throws Exception {
        assertThat(Files.isSameFile(mnt.resolve(".."), mnt.getParent())).isTrue();
        assertErrno("open GUID/..", c.open(Sys.path(file(READ) + "/.."), Sys.O_RDONLY, 0), Sys.ENOTDIR);
        assertErrno("unlink ..", c.unlink(Sys.path(mnt + "/..")), Sys.EISDIR);
        assertErrno("unlink .", c.unlink(Sys.path(mnt + "/.")), Sys.EISDIR);
        assertErrno("open ...", c.open(Sys.path(mnt + "/..."), Sys.O_RDONLY, 0), Sys.ENOENT);
        // Out of the mount and back in by name reaches the same file.
        Path around = mnt.resolve("..").resolve(mnt.getFileName()).resolve(page.names.get(READ));
        assertThat(page.isSecret(READ, Files.readAllBytes(around))).as("read through ../mnt/GUID").isTrue();
    }

    @Test
    @DisplayName("long names: ENOENT at 255 bytes, ENAMETOOLONG from 256 to 1,024 (the daemon's NAME_MAX)")
    void longNames() {
        assertErrno("255-byte name", c.open(Sys.path(mnt + "/" + "a".repeat(255)), Sys.O_RDONLY, 0), Sys.ENOENT);
        for (int length : new int[] {256, 300, 1024}) {
            String path = mnt + "/" + "a".repeat(length);
            assertErrno(length + "-byte name", c.open(Sys.path(path), Sys.O_RDONLY, 0), Sys.ENAMETOOLONG);
            assertErrno(length + "-byte name, O_PATH", c.open(Sys.path(path), Sys.O_PATH, 0), Sys.ENAMETOOLONG);
            assertErrno("unlink " + length + "-byte name", c.unlink(Sys.path(path)), Sys.ENAMETOOLONG);
        }
        // A GUID with 300 bytes of junk after it is not that GUID.
        assertErrno("GUID and junk", c.open(Sys.path(file(READ) + "x".repeat(300)), Sys.O_RDONLY, 0),
                Sys.ENAMETOOLONG);
    }

    @Test
    @DisplayName("kernel: names past 1,024 bytes (FUSE's limit) and paths past PATH_MAX get ENAMETOOLONG before the daemon")
    void namesTheKernelRefuses() {
        for (int length : new int[] {1025, 4000}) {
            String path = mnt + "/" + "a".repeat(length);
            assertErrno(length + "-byte name", c.open(Sys.path(path), Sys.O_RDONLY, 0), Sys.ENAMETOOLONG);
            assertErrno(length + "-byte name, O_PATH", c.open(Sys.path(path), Sys.O_PATH, 0), Sys.ENAMETOOLONG);
            assertErrno("unlink " + length + "-byte name", c.unlink(Sys.path(path)), Sys.ENAMETOOLONG);
        }
        assertErrno("path over PATH_MAX", c.open(Sys.path(mnt + "/" + "b/".repeat(2100) + "c"), Sys.O_RDONLY, 0),
                Sys.ENAMETOOLONG);
    }

    static Stream<Arguments> otherSpellings() {
        return Stream.of(
                spelling("uppercase", g -> g.toUpperCase(Locale.ROOT)),
                spelling("one letter uppercase", HostileCallersIT::oneLetterUppercase),
                spelling("without dashes", g -> g.replace("-", "")),
                spelling("in braces", g -> "{" + g + "}"),
                spelling("with a trailing space", g -> g + " "),
                spelling("with a leading space", g -> " " + g),
                spelling("with a trailing newline", g -> g + "\n"),
                spelling("with a tab for a dash", g -> g.substring(0, 8) + "\t" + g.substring(9)),
                spelling("with a look-alike character", HostileCallersIT::lookAlike),
                spelling("with a zero-width space", g -> g.substring(0, 4) + "\u200b" + g.substring(4)),
                spelling("with format specifiers", g -> g + "%n%s%x"),
                spelling("short by one digit", g -> g.substring(0, g.length() - 1)),
                spelling("with one digit more", g -> g + "0"));
    }

    static String oneLetterUppercase(String guid) {
        for (int i = 0; i < guid.length(); i++) {
            if (Character.isLetter(guid.charAt(i))) {
                return guid.substring(0, i) + Character.toUpperCase(guid.charAt(i)) + guid.substring(i + 1);
            }
        }
        throw new AssertionError("no letter in " + guid);
    }

    /** The first character that has one replaced by a look-alike: Cyrillic a, c, e; fullwidth digits. */
    static String lookAlike(String guid) {
        for (int i = 0; i < guid.length(); i++) {
            char ch = guid.charAt(i);
            int other = switch (ch) {
                case 'a' -> 0x430;
                case 'c' -> 0x441;
                case 'e' -> 0x435;
                default -> Character.isDigit(ch) ? 0xff10 + (ch - '0') : -1;
            };
            if (other > 0) {
                return guid.substring(0, i) + (char) other + guid.substring(i + 1);
            }
        }
        throw new AssertionError("no character with a look-alike in " + guid);
    }

    private static Arguments spelling(String how, UnaryOperator<String> respell) {
        return Arguments.of(how, respell);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("otherSpellings")
    @DisplayName("another spelling of a GUID is not that GUID")
    void otherSpellingIsNoSuchFile(String how, UnaryOperator<String> respell) throws Exception {
        String real = page.names.get(READ);
        String name = respell.apply(real);
        assertThat(name).as("the spelling differs").isNotEqualTo(real);
        nameIsAbsent(name.getBytes(StandardCharsets.UTF_8));
        readWhole(READ);
    }

    @Test
    @DisplayName("names that are not UTF-8 are nobody's: overlong encodings, stray bytes, control bytes")
    void oddBytes() throws Exception {
        byte[] real = page.names.get(READ).getBytes(StandardCharsets.US_ASCII);
        List<byte[]> names = new ArrayList<>();
        // The GUID with its last character in a 2-byte overlong encoding: a decoder that accepts
        // overlong forms would turn it into the real name.
        byte last = real[real.length - 1];
        ByteArrayOutputStream overlong = new ByteArrayOutputStream();
        overlong.write(real, 0, real.length - 1);
        overlong.write(0xc0 | last >> 6);
        overlong.write(0x80 | last & 0x3f);
        names.add(overlong.toByteArray());
        names.add(concat(real, new byte[] {(byte) 0xff}));
        names.add(concat(new byte[] {(byte) 0xef, (byte) 0xbb, (byte) 0xbf}, real)); // a byte-order mark first
        names.add(concat(real, new byte[] {(byte) 0xc0, (byte) 0x80})); // overlong NUL
        names.add(new byte[] {(byte) 0xc0, (byte) 0xae, (byte) 0xc0, (byte) 0xae}); // overlong ".."
        names.add(new byte[] {(byte) 0xfe, (byte) 0xff, 0x01, 0x7f, 0x1b, '[', '2', 'J'});
        for (byte[] name : names) {
            nameIsAbsent(name);
        }
        readWhole(READ);
    }

    private void nameIsAbsent(byte[] name) {
        byte[] path = Sys.path(concat((mnt + "/").getBytes(StandardCharsets.UTF_8), name));
        assertErrno("open", c.open(path, Sys.O_RDONLY, 0), Sys.ENOENT);
        assertErrno("open O_PATH", c.open(path, Sys.O_PATH, 0), Sys.ENOENT);
        assertErrno("unlink", c.unlink(path), Sys.ENOENT);
        assertErrno("truncate", c.truncate(path, 0), Sys.ENOENT);
        assertErrno("create", c.open(path, Sys.O_WRONLY | Sys.O_CREAT, 0600), Sys.EPERM);
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] all = new byte[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    @Test
    @DisplayName("a deleted entry is gone for every call, and a descriptor opened before reads nothing")
    void deletedEntries() throws Exception {
        int before = open(file(DELETED));
        try {
            assertThat(c.unlink(Sys.path(file(DELETED)))).isZero();
            deleted.add(DELETED);
            byte[] path = Sys.path(file(DELETED));
            assertErrno("open", c.open(path, Sys.O_RDONLY, 0), Sys.ENOENT);
            assertErrno("open O_PATH", c.open(path, Sys.O_PATH, 0), Sys.ENOENT);
            assertErrno("unlink again", c.unlink(path), Sys.ENOENT);
            assertErrno("truncate", c.truncate(path, 0), Sys.ENOENT);
            assertThat(Files.exists(Path.of(file(DELETED)))).isFalse();
            try (Stream<Path> names = Files.list(mnt)) {
                assertThat(names.map(p -> p.getFileName().toString())).doesNotContain(page.names.get(DELETED));
            }
            byte[] buf = new byte[4096];
            for (long offset : new long[] {0, 1, 47, 48, 1L << 40}) {
                assertThat(c.pread(before, buf, buf.length, offset)).as("pread at %d after the unlink", offset).isZero();
                assertThat(c.pread(before, buf, 1, offset)).as("1-byte pread at %d after the unlink", offset).isZero();
            }
            assertThat(c.read(before, buf, buf.length)).isZero();
        } finally {
            assertThat(c.close(before)).isZero();
        }
    }

    @Test
    @DisplayName("offsets past the end and near 2^63, zero-length and oversized reads")
    void offsets() {
        int fd = open(file(READ));
        try {
            int length = page.length(READ);
            byte[] buf = new byte[1 << 20];
            page.checkRead(READ, 0, buf.length, buf, c.pread(fd, buf, buf.length, 0), "1 MiB read");
            page.checkRead(READ, 40, 100, buf, c.pread(fd, buf, 100, 40), "read across the end");
            for (long offset : new long[] {length, length + 1, 4096, 1L << 31, 1L << 32, 1L << 62, LLONG_MAX - 4096,
                    LLONG_MAX - 2}) {
                assertThat(c.pread(fd, buf, 1, offset)).as("1-byte pread at %d", offset).isZero();
            }
            assertThat(c.pread(fd, buf, 4096, LLONG_MAX - 4096)).as("pread ending at 2^63 - 1").isZero();
            for (long offset : new long[] {0, 1, length, LLONG_MAX - 1, LLONG_MAX}) {
                assertThat(c.pread(fd, buf, 0, offset)).as("zero-length pread at %d", offset).isZero();
            }
            assertThat(c.lseek(fd, LLONG_MAX - 1, 0)).isEqualTo(LLONG_MAX - 1);
            assertThat(c.read(fd, buf, 1)).as("read at the last offset there is").isZero();
            assertThat(c.lseek(fd, 0, 0)).isZero();
            page.checkRead(READ, 0, buf.length, buf, c.read(fd, buf, buf.length), "read after seeking back");
        } finally {
            c.close(fd);
        }
    }

    @Test
    @DisplayName("kernel: reads at negative offsets or ending past 2^63 - 1 get EINVAL before the daemon")
    void offsetsTheKernelRefuses() {
        int fd = open(file(READ));
        try {
            byte[] buf = new byte[4096];
            assertErrno("pread at 2^63 - 1", c.pread(fd, buf, 1, LLONG_MAX), Sys.EINVAL);
            assertErrno("pread past 2^63", c.pread(fd, buf, 4096, LLONG_MAX - 100), Sys.EINVAL);
            assertErrno("pread at -1", c.pread(fd, buf, 1, -1), Sys.EINVAL);
            assertErrno("pread at -2^63", c.pread(fd, buf, 1, Long.MIN_VALUE), Sys.EINVAL);
        } finally {
            c.close(fd);
        }
    }

    @Test
    @DisplayName("1-byte reads, sequential and positional, reassemble the secret exactly")
    void oneByteReads() {
        int fd = open(file(READ));
        try {
            int length = page.length(READ);
            byte[] whole = new byte[length];
            byte[] one = new byte[1];
            for (int i = 0; i < length; i++) {
                assertThat(c.read(fd, one, 1)).as("read of byte %d", i).isEqualTo(1);
                whole[i] = one[0];
            }
            assertThat(c.read(fd, one, 1)).as("read at the end").isZero();
            assertThat(page.isSecret(READ, whole)).as("sequential 1-byte reads give the secret").isTrue();
            for (int i = length - 1; i >= 0; i--) {
                assertThat(c.pread(fd, one, 1, i)).isEqualTo(1);
                whole[i] = one[0];
            }
            assertThat(page.isSecret(READ, whole)).as("backwards 1-byte preads give the secret").isTrue();
            Arrays.fill(whole, (byte) 0);
        } finally {
            c.close(fd);
        }
    }

    @Test
    @DisplayName("thousands of descriptors open at once, and an unlink under a thousand of them")
    void thousandsOfDescriptors() {
        int want = 4096;
        long[] limit = new long[2];
        assertThat(c.getrlimit(Sys.RLIMIT_NOFILE, limit)).isZero();
        if (limit[0] < want + 256 && limit[1] >= want + 256) {
            assertThat(c.setrlimit(Sys.RLIMIT_NOFILE, new long[] {limit[1], limit[1]})).isZero();
        }
        assertThat(c.getrlimit(Sys.RLIMIT_NOFILE, limit)).isZero();
        assumeTrue(limit[0] >= want + 256, "skipped: RLIMIT_NOFILE allows only " + limit[0] + " descriptors");

        int[] fds = new int[want];
        int[] secretOf = new int[want];
        int[] readers = {READ, HELD, 3, 4, 5};
        try {
            for (int k = 0; k < want; k++) {
                secretOf[k] = readers[k % readers.length];
                fds[k] = open(file(secretOf[k]));
            }
            byte[] buf = new byte[4096];
            for (int k = 0; k < want; k++) {
                page.checkRead(secretOf[k], 0, buf.length, buf, c.pread(fds[k], buf, buf.length, 0), "read of fd " + k);
            }
            assertThat(c.unlink(Sys.path(file(HELD)))).isZero();
            deleted.add(HELD);
            long emptied = 0;
            for (int k = 0; k < want; k++) {
                long n = c.pread(fds[k], buf, buf.length, 0);
                if (secretOf[k] == HELD) {
                    assertThat(n).as("fd %d of the deleted secret", k).isZero();
                    emptied++;
                } else {
                    page.checkRead(secretOf[k], 0, buf.length, buf, n, "read of fd " + k);
                }
            }
            assertThat(emptied).as("descriptors on the deleted secret").isEqualTo(
                    Arrays.stream(secretOf).filter(i -> i == HELD).count());
            System.out.printf("hostile callers: %d descriptors open at once, %d of them on a secret deleted under them%n",
                    want, emptied);
        } finally {
            for (int fd : fds) {
                if (fd > 0) {
                    c.close(fd);
                }
            }
        }
    }
}
