// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One holder at a time, whichever path or descriptor reaches the inode; files, character devices and directories. */
class ExclusiveLockTest {
    @TempDir
    Path tmp;

    private static void exclusive(Path path, Path otherName, boolean directory) throws Exception {
        Optional<ExclusiveLock> first = ExclusiveLock.tryLock(path, directory);
        assertThat(first).isPresent();
        assertThat(ExclusiveLock.tryLock(path, directory)).as("a second descriptor on %s", path).isEmpty();
        assertThat(ExclusiveLock.tryLock(otherName, directory)).as("another name for %s", path).isEmpty();
        first.get().close();
        Optional<ExclusiveLock> again = ExclusiveLock.tryLock(otherName, directory);
        assertThat(again).as("free once let go").isPresent();
        again.get().close();
    }

    @Test
    void aRegularFile() throws Exception {
        Path page = Files.write(tmp.resolve("page.bin"), new byte[64]);
        exclusive(page, Files.createLink(tmp.resolve("hard-link"), page), false);
    }

    @Test
    void aCharacterDeviceAsTheShimsIs() throws Exception {
        assumeTrue(Native.libc().geteuid() == 0, "skipped: making a device node (mknod) needs root");
        Path node = tmp.resolve("coco_secret");
        Path other = tmp.resolve("same-node");
        // /dev/null's numbers (1:3): a character device like /dev/coco_secret, under a name of our own.
        Process mknod = new ProcessBuilder("mknod", "-m", "0600", node.toString(), "c", "1", "3").inheritIO().start();
        assertThat(mknod.waitFor()).isZero();
        Files.createLink(other, node);
        exclusive(node, other, false);
    }

    @Test
    void aDirectory() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("mnt"));
        exclusive(dir, Files.createSymbolicLink(tmp.resolve("link"), dir), true);
        Path file = Files.write(tmp.resolve("file"), new byte[1]);
        assertThatThrownBy(() -> ExclusiveLock.tryLock(file, true)).isInstanceOf(FileSystemException.class)
                .hasMessageContaining("not a directory");
        assertThatThrownBy(() -> ExclusiveLock.tryLock(tmp.resolve("absent"), false))
                .isInstanceOf(NoSuchFileException.class);
    }

    @Test
    void holdsSaysWhetherThePathStillNamesTheLockedFile() throws Exception {
        Path page = Files.write(tmp.resolve("page.bin"), new byte[64]);
        try (ExclusiveLock lock = ExclusiveLock.tryLock(page, false).orElseThrow()) {
            assertThat(lock.holds(page)).isTrue();
            Path replacement = Files.write(tmp.resolve("new.bin"), new byte[64]);
            Files.move(replacement, page, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            assertThat(lock.holds(page)).as("renamed over").isFalse();
        }
    }
}
