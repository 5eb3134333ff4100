// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A page on a block device (here a loop device over an image file) is synced like a file: once a
 * wipe and its sync return, the zeros are in the image underneath, not only in the loop device's
 * page cache. Needs root and a kernel with loop devices; skips, saying why, without them.
 */
@DisplayName("block device backing")
class BlockDeviceStoreTest {
    @TempDir
    Path tmp;

    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("%s ends", String.join(" ", cmd)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        return p.exitValue() == 0 ? out : null;
    }

    @Test
    @DisplayName("a wipe on a loop device reaches the image once sync returns")
    void loopDeviceIsSynced() throws Exception {
        Path image = tmp.resolve("disk.img");
        byte[] bytes = new byte[1 << 20];
        new Random(7).nextBytes(bytes);
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] |= 1; // no zero byte: every zeroed byte shows
        }
        Files.write(image, bytes);
        String loop = Files.isExecutable(Path.of("/usr/sbin/losetup")) || Files.isExecutable(Path.of("/sbin/losetup"))
                ? run("losetup", "--find", "--show", image.toString()) : null;
        assumeTrue(loop != null && loop.startsWith("/dev/loop"),
                "skipped: no loop device here (losetup needs root and a kernel with loop support)");
        try {
            try (BackingStore store = Stores.open(Path.of(loop))) {
                assertThat(store).isInstanceOf(FileStore.class);
                assertThat(store.size()).isEqualTo(bytes.length);
                store.wipe(4096 + 100, 5000);
                store.sync();
                byte[] underneath = Files.readAllBytes(image);
                assertThat(Arrays.equals(underneath, 4096 + 100, 4096 + 5100, new byte[5000], 0, 5000))
                        .as("the wiped range is zero in the image under the loop device").isTrue();
                assertThat(Arrays.equals(underneath, 0, 4096 + 100, bytes, 0, 4096 + 100)
                        && Arrays.equals(underneath, 4096 + 5100, bytes.length, bytes, 4096 + 5100, bytes.length))
                        .as("nothing else changed").isTrue();
            }
        } finally {
            run("losetup", "--detach", loop);
        }
    }
}
