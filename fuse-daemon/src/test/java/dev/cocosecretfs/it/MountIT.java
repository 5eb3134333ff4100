// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.Nobody;
import dev.cocosecretfs.testing.Result;
import dev.cocosecretfs.testing.Sys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real FUSE mount of a file-backed page, driven through the kernel as users do. */
class MountIT {
    static final String LUKS = "736869e5-84f0-4973-92ec-06879ce3da0b";
    static final String BUNDLE = "e6f5a162-d67f-4750-a67c-5d065f2a9910";
    static final String KBS = "1ee27366-0c87-43a6-af48-28543eaf7cb0";
    static final String LUKS_TEXT = "correct horse battery staple";
    static final String BUNDLE_TEXT = "{\"kid-1\":\"q83vEjRWeJA=\"}";

    @TempDir
    Path tmp;

    Path page;
    Path mnt;
    byte[] binary;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        // Other users must reach the mount point for the permission tests to test the mount, not /tmp.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        binary = new byte[256];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) i;
        }
        Path bin = tmp.resolve("kbs.bin");
        Files.write(bin, binary);
        page = tmp.resolve("page.bin");
        Result packed = CocoDaemon.run("pack", "--out", page.toString(),
                LUKS + "=" + LUKS_TEXT, BUNDLE + "=" + BUNDLE_TEXT, KBS + "=@" + bin);
        assertThat(packed.exit()).as(packed.err()).isZero();
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    /** Offsets of the three entries as pack lays them out, in argument order. */
    long entryOffset(String guid) {
        long luks = 20;
        long bundle = luks + 20 + LUKS_TEXT.length();
        long kbs = bundle + 20 + BUNDLE_TEXT.length();
        return switch (guid) {
            case LUKS -> luks;
            case BUNDLE -> bundle;
            default -> kbs;
        };
    }

    @Nested
    @DisplayName("reading")
    class Reading {
        @Test
        void namesSizesModesAndContents() throws Exception {
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
                try (var names = Files.list(mnt)) {
                    assertThat(names.map(p -> p.getFileName().toString()).sorted())
                            .containsExactly(KBS, LUKS, BUNDLE);
                }
                PosixFileAttributes dir = Files.readAttributes(mnt, PosixFileAttributes.class);
                assertThat(PosixFilePermissions.toString(dir.permissions())).isEqualTo("rwxr-x---");
                assertThat(dir.owner().getName()).isEqualTo("root");
                PosixFileAttributes file = Files.readAttributes(mnt.resolve(LUKS), PosixFileAttributes.class);
                assertThat(file.isRegularFile()).isTrue();
                assertThat(PosixFilePermissions.toString(file.permissions())).isEqualTo("r--r-----");
                assertThat(file.owner().getName()).isEqualTo("root");
                assertThat(file.group().getName()).isEqualTo("root");
                assertThat(file.size()).isEqualTo(LUKS_TEXT.length());
                assertThat(Files.size(mnt.resolve(KBS))).isEqualTo(256);
                assertThat(Files.readString(mnt.resolve(LUKS))).isEqualTo(LUKS_TEXT);
                assertThat(Files.readString(mnt.resolve(BUNDLE))).isEqualTo(BUNDLE_TEXT);
                assertThat(Files.readAllBytes(mnt.resolve(KBS))).isEqualTo(binary);
            }
        }

        @Test
        void readsAtOffsetsAndOneByteAtATime() throws Exception {
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
                Sys c = Sys.C;
                int fd = c.open(Sys.path(mnt.resolve(KBS).toString()), Sys.O_RDONLY, 0);
                assertThat(fd).isNotNegative();
                byte[] one = new byte[1];
                byte[] whole = new byte[256];
                for (int i = 0; i < 256; i++) {
                    assertThat(c.pread(fd, one, 1, i)).isEqualTo(1);
                    whole[i] = one[0];
                }
                assertThat(whole).isEqualTo(binary);
                byte[] tail = new byte[100];
                assertThat(c.pread(fd, tail, 100, 200)).isEqualTo(56);
                assertThat(c.pread(fd, tail, 100, 256)).isZero();
                assertThat(c.pread(fd, tail, 100, 1L << 62)).isZero();
                assertThat(c.pread(fd, tail, 1, Long.MAX_VALUE - 1)).isZero();
                assertThat(c.pread(fd, tail, 0, 0)).isZero();
                c.close(fd);
            }
        }

        @Test
        void otherUsersCannotRead() throws Exception {
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
                assertThat(asNobody("cat", mnt.resolve(LUKS).toString()).exit()).isNotZero();
            }
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt, "--allow-other")) {
                Result r = asNobody("cat", mnt.resolve(LUKS).toString());
                assertThat(r.exit()).isNotZero();
                assertThat(r.err()).contains("Permission denied").doesNotContain(LUKS_TEXT);
                assertThat(r.out()).isEmpty();
            }
        }

        @Test
        void aChosenOwnerReads() throws Exception {
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt, "--allow-other", "--uid", "65534", "--gid", "65534")) {
                Result r = asNobody("cat", mnt.resolve(BUNDLE).toString());
                assertThat(r.exit()).as(r.err()).isZero();
                assertThat(r.out()).isEqualTo(BUNDLE_TEXT);
            }
        }
    }

    @Nested
    @DisplayName("deleting")
    class Deleting {
        @Test
        void unlinkZeroesExactlyDataAndGuidAndTheRestSurvivesARemount() throws Exception {
            byte[] before = Files.readAllBytes(page);
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
                Files.delete(mnt.resolve(BUNDLE));
                assertThat(Files.exists(mnt.resolve(BUNDLE))).isFalse();
                assertThat(m.log()).contains("wiped secret " + BUNDLE).doesNotContain(BUNDLE_TEXT);
                assertThat(m.stop()).isZero();
            }
            byte[] after = Files.readAllBytes(page);
            long entry = entryOffset(BUNDLE);
            for (int i = 0; i < before.length; i++) {
                boolean guid = i >= entry && i < entry + 16;
                boolean data = i >= entry + 20 && i < entry + 20 + BUNDLE_TEXT.length();
                assertThat(after[i]).as("byte %d", i).isEqualTo(guid || data ? 0 : before[i]);
            }
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
                try (var names = Files.list(mnt)) {
                    assertThat(names.map(p -> p.getFileName().toString()).sorted()).containsExactly(KBS, LUKS);
                }
                assertThat(Files.readString(mnt.resolve(LUKS))).isEqualTo(LUKS_TEXT);
            }
            Result inspect = CocoDaemon.run("inspect", page.toString());
            assertThat(inspect.out()).containsPattern("\\b" + entry + " +00000000-0000-0000-0000-000000000000 +"
                    + BUNDLE_TEXT.length() + " +wiped");
        }

        @Test
        void aFileOpenedBeforeUnlinkReadsEmptyAfter() throws Exception {
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
                Sys c = Sys.C;
                int fd = c.open(Sys.path(mnt.resolve(LUKS).toString()), Sys.O_RDONLY, 0);
                assertThat(fd).isNotNegative();
                Files.delete(mnt.resolve(LUKS));
                byte[] buf = new byte[64];
                assertThat(c.pread(fd, buf, 64, 0)).isZero();
                c.close(fd);
                assertThat(c.unlink(Sys.path(mnt.resolve(LUKS).toString()))).isEqualTo(-1);
                assertThat(Sys.errno()).isEqualTo(Sys.ENOENT);
            }
        }

        @Test
        void readersNeverSeeAPartialSecret() throws Exception {
            int count = 60;
            List<String> args = new ArrayList<>(List.of("pack", "--out", page.toString(), "--size", "16384"));
            List<String> names = new ArrayList<>();
            List<String> values = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                String name = String.format("%08x-0000-4000-8000-%012x", i + 1, i);
                String value = HexFormat.of().formatHex(new byte[40]).replace('0', (char) ('a' + i % 26)) + i;
                names.add(name);
                values.add(value);
                args.add(name + "=" + value);
            }
            assertThat(CocoDaemon.run(args.toArray(new String[0])).exit()).isZero();
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
                ExecutorService pool = Executors.newFixedThreadPool(3);
                AtomicInteger whole = new AtomicInteger();
                AtomicInteger gone = new AtomicInteger();
                List<Future<?>> readers = new ArrayList<>();
                for (int r = 0; r < 2; r++) {
                    readers.add(pool.submit(() -> {
                        for (int round = 0; round < 20; round++) {
                            for (int i = 0; i < count; i++) {
                                byte[] got = readOrNull(mnt.resolve(names.get(i)));
                                if (got == null || got.length == 0) {
                                    gone.incrementAndGet();
                                } else {
                                    assertThat(new String(got, StandardCharsets.US_ASCII)).isEqualTo(values.get(i));
                                    whole.incrementAndGet();
                                }
                            }
                        }
                        return null;
                    }));
                }
                Future<?> unlinker = pool.submit(() -> {
                    for (int i = 0; i < count; i += 2) {
                        Files.delete(mnt.resolve(names.get(i)));
                    }
                    return null;
                });
                unlinker.get();
                for (Future<?> f : readers) {
                    f.get();
                }
                pool.shutdown();
                assertThat(whole.get() + gone.get()).isEqualTo(2 * 20 * count);
                assertThat(whole.get()).isPositive();
                assertThat(m.stop()).isZero();
            }
            Result inspect = CocoDaemon.run("inspect", "--json", page.toString());
            assertThat(inspect.out().split("\"state\":\"wiped\"", -1)).hasSize(count / 2 + 1);
        }

        private static byte[] readOrNull(Path p) {
            try {
                return Files.readAllBytes(p);
            } catch (java.io.IOException e) {
                return null;
            }
        }

        @Test
        void otherUsersCannotUnlinkButAnOwnerWithWriteCan() throws Exception {
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt, "--allow-other")) {
                assertThat(asNobody("rm", "-f", mnt.resolve(LUKS).toString()).exit()).isNotZero();
                assertThat(Files.exists(mnt.resolve(LUKS))).isTrue();
            }
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt, "--allow-other", "--uid", "65534", "--gid", "65534")) {
                Result r = asNobody("rm", mnt.resolve(LUKS).toString());
                assertThat(r.exit()).as(r.err()).isZero();
                assertThat(Files.exists(mnt.resolve(LUKS))).isFalse();
            }
        }
    }

    @Nested
    @DisplayName("refused operations")
    class Refused {
        @Test
        void eachGetsEpermAndTheMountKeepsWorking() throws Exception {
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
                Sys c = Sys.C;
                String file = mnt.resolve(LUKS).toString();
                String fresh = mnt.resolve("2cf13667-ea72-4013-9dd6-155e89c5a28f").toString();
                assertEperm("open for writing", c.open(Sys.path(file), Sys.O_WRONLY, 0));
                assertEperm("open read-write", c.open(Sys.path(file), Sys.O_RDWR, 0));
                assertEperm("open with O_TRUNC", c.open(Sys.path(file), Sys.O_RDONLY | Sys.O_TRUNC, 0));
                assertEperm("create", c.open(Sys.path(fresh), Sys.O_WRONLY | Sys.O_CREAT, 0600));
                assertEperm("mknod", c.mknod(Sys.path(fresh), 0100600, 0));
                assertEperm("mkdir", c.mkdir(Sys.path(mnt.resolve("d").toString()), 0700));
                assertEperm("rename", c.rename(Sys.path(file), Sys.path(fresh)));
                assertEperm("link", c.link(Sys.path(file), Sys.path(fresh)));
                assertEperm("symlink", c.symlink(Sys.path(file), Sys.path(fresh)));
                assertEperm("chmod", c.chmod(Sys.path(file), 0644));
                assertEperm("chown", c.chown(Sys.path(file), 1, 1));
                assertEperm("truncate", c.truncate(Sys.path(file), 0));
                assertEperm("setxattr", c.setxattr(Sys.path(file), "user.x", new byte[] {1}, 1, 0));
                assertEperm("utimes", c.utimes(Sys.path(file), null));
                assertThat(Files.readString(mnt.resolve(LUKS))).isEqualTo(LUKS_TEXT);
                assertThat(Files.exists(Path.of(fresh))).isFalse();
                assertThat(m.process.isAlive()).isTrue();
            }
        }

        private void assertEperm(String what, long result) {
            assertThat(result).as(what).isEqualTo(-1);
            assertThat(Sys.errno()).as(what + " errno").isEqualTo(Sys.EPERM);
        }
    }

    @Nested
    @DisplayName("lifecycle")
    class Lifecycle {
        @Test
        void sigtermUnmountsAndExitsZero() throws Exception {
            CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt);
            assertThat(m.log()).contains("mounted 3 secrets from " + page);
            assertThat(m.stop()).isZero();
            assertThat(MountTable.at(mnt.toRealPath())).isEmpty();
            assertThat(m.log()).contains("unmounted " + mnt.toRealPath());
            m.close();
        }

        @Test
        void aKilledDaemonsDeadMountIsRecovered() throws Exception {
            CocoDaemon first = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt);
            first.kill();
            assertThat(first.isMounted()).as("SIGKILL leaves the mount behind").isTrue();
            assertThat(Sys.C.open(Sys.path(mnt.resolve(LUKS).toString()), Sys.O_RDONLY, 0)).isEqualTo(-1);
            assertThat(Sys.errno()).as("ENOTCONN").isEqualTo(107);
            try (CocoDaemon second = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
                assertThat(second.log()).contains("dead FUSE mount");
                assertThat(Files.readString(mnt.resolve(LUKS))).isEqualTo(LUKS_TEXT);
            }
            first.close();
        }

        @Test
        void aLiveMountIsNotTakenOver() throws Exception {
            try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
                Result r = CocoDaemon.run("mount", "--backing", page.toString(), mnt.toString());
                assertThat(r.exit()).isEqualTo(1);
                assertThat(r.errLines()).singleElement().asString()
                        .startsWith("coco-secretfs: mount point " + mnt.toRealPath() + " is busy");
                assertThat(Files.readString(mnt.resolve(LUKS))).isEqualTo(LUKS_TEXT);
            }
        }
    }

    static Result asNobody(String... command) throws Exception {
        return Nobody.run(command);
    }
}
