// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mount points resolve as the kernel resolves them, without looking at what is mounted on the way. */
class MountPointTest {
    @TempDir
    Path tmp;

    Path root;

    @BeforeEach
    void setUp() throws Exception {
        root = tmp.toRealPath();
    }

    @Test
    void dotDotAfterASymlinkLeavesTheTarget() throws Exception {
        Path sub = Files.createDirectories(root.resolve("a/b"));
        Files.createDirectory(root.resolve("a/m"));
        Files.createDirectory(root.resolve("m"));
        Files.createSymbolicLink(root.resolve("S"), sub);
        Path given = Path.of(root + "/S/../m");
        assertThat(MountPoint.resolve(given, Set.of())).isEqualTo(root.resolve("a/m")).isEqualTo(given.toRealPath());
    }

    @Test
    void relativeAndChainedLinks() throws Exception {
        Path target = Files.createDirectories(root.resolve("x/y"));
        Files.createSymbolicLink(root.resolve("one"), Path.of("two"));
        Files.createSymbolicLink(root.resolve("two"), Path.of("x/./y"));
        assertThat(MountPoint.resolve(root.resolve("one"), Set.of())).isEqualTo(target);
        assertThat(MountPoint.resolve(root.resolve("x/y/../y/."), Set.of())).isEqualTo(target);
    }

    @Test
    void aMountPointOnTheWayIsNotLookedAt() throws Exception {
        // On disk a link; listed as a mount point, it is taken as the directory a mount makes it.
        Path link = Files.createSymbolicLink(root.resolve("mounted"), Files.createDirectory(root.resolve("t")));
        assertThat(MountPoint.resolve(link, Set.of(link))).isEqualTo(link);
        assertThat(MountPoint.resolve(link, Set.of())).isEqualTo(root.resolve("t"));
    }

    @Test
    void aMissingPartEndsTheResolution() throws Exception {
        assertThat(MountPoint.resolve(root.resolve("absent/x"), Set.of())).isEqualTo(root.resolve("absent/x"));
    }

    @Test
    void aLinkLoopIsAnError() throws Exception {
        Files.createSymbolicLink(root.resolve("loop"), Path.of("loop"));
        assertThatThrownBy(() -> MountPoint.resolve(root.resolve("loop"), Set.of()))
                .isInstanceOf(MountException.class).hasMessageEndingWith("too many levels of symbolic links");
    }
}
