// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a container runtime does with /run/coco: a new mount namespace with a root of its own (a
 * busybox rootfs) and the mount bind-mounted in, read-only or read-write.
 */
class ContainerIT {
    static final String LUKS = "736869e5-84f0-4973-92ec-06879ce3da0b";
    static final String BUNDLE = "e6f5a162-d67f-4750-a67c-5d065f2a9910";
    static final String BUNDLE_TEXT = "{\"kid\":\"c2VjcmV0\"}";
    static final Path BUSYBOX = Path.of("/bin/busybox");

    @TempDir
    Path tmp;

    Path page;
    Path mnt;
    Path rootfs;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        assumeTrue(Files.isExecutable(BUSYBOX), "skipped: /bin/busybox (Debian package busybox-static) is missing;"
                + " make check installs it");
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        page = tmp.resolve("page.bin");
        assertThat(CocoDaemon.run("pack", "--out", page.toString(), LUKS + "=disk-passphrase",
                BUNDLE + "=" + BUNDLE_TEXT).exit()).isZero();
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        rootfs = tmp.resolve("rootfs");
        Files.createDirectories(rootfs.resolve("bin"));
        Files.createDirectories(rootfs.resolve("run/coco"));
        Files.copy(BUSYBOX, rootfs.resolve("bin/busybox"));
        for (String applet : List.of("sh", "cat", "rm", "ls")) {
            Files.createSymbolicLink(rootfs.resolve("bin").resolve(applet), Path.of("busybox"));
        }
    }

    /**
     * Runs {@code command} in the container: a private mount namespace in which the mount is bound at
     * rootfs/run/coco ({@code ro} or {@code rw}), then chroot into rootfs as {@code user}.
     */
    Result inContainer(String bind, String user, String command) throws Exception {
        String script = "set -e\n"
                + "mount --bind '" + mnt + "' '" + rootfs + "/run/coco'\n"
                + ("ro".equals(bind) ? "mount -o remount,bind,ro '" + rootfs + "/run/coco'\n" : "")
                + "exec chroot --userspec=" + user + " '" + rootfs + "' /bin/sh -c 'PATH=/bin; " + command + "'\n";
        List<String> cmd = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c", script));
        return Result.of(cmd);
    }

    @Test
    void readOnlyBindReadsButCannotDelete() throws Exception {
        byte[] before = Files.readAllBytes(page);
        try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
            Result read = inContainer("ro", "0:0", "cat /run/coco/" + BUNDLE);
            assertThat(read.exit()).as(read.err()).isZero();
            assertThat(read.out()).isEqualTo(BUNDLE_TEXT);

            Result rm = inContainer("ro", "0:0", "rm /run/coco/" + BUNDLE);
            assertThat(rm.exit()).isNotZero();
            assertThat(rm.err()).contains("Read-only file system");
            assertThat(Files.exists(mnt.resolve(BUNDLE))).isTrue();
        }
        assertThat(Files.readAllBytes(page)).as("the page is unchanged").isEqualTo(before);
    }

    @Test
    void readWriteBindDeletesAndWipesThePage() throws Exception {
        try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
            Result rm = inContainer("rw", "0:0", "rm /run/coco/" + BUNDLE + " && ls /run/coco");
            assertThat(rm.exit()).as(rm.err()).isZero();
            assertThat(rm.out().trim()).isEqualTo(LUKS);
            assertThat(Files.exists(mnt.resolve(BUNDLE))).as("gone on the host too").isFalse();
        }
        Result inspect = CocoDaemon.run("inspect", "--json", page.toString());
        assertThat(inspect.out()).contains("\"state\":\"wiped\"").doesNotContain(BUNDLE);
    }

    @Test
    void aNonRootUserReadsOnlyWhatTheModesAllow() throws Exception {
        try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt, "--allow-other", "--gid", "4242", "--mode", "0440")) {
            Result member = inContainer("ro", "4242:4242", "cat /run/coco/" + BUNDLE);
            assertThat(member.exit()).as(member.err()).isZero();
            assertThat(member.out()).isEqualTo(BUNDLE_TEXT);

            Result other = inContainer("ro", "65534:65534", "cat /run/coco/" + BUNDLE);
            assertThat(other.exit()).isNotZero();
            assertThat(other.err()).contains("Permission denied");
            assertThat(other.out()).isEmpty();

            Result list = inContainer("ro", "65534:65534", "ls /run/coco");
            assertThat(list.exit()).as("the directory is 0550: no listing for others").isNotZero();
        }
    }
}
