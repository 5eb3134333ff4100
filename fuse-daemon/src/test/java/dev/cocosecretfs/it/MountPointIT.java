// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.Result;
import dev.cocosecretfs.testing.SecretPage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mount point is resolved to its real path once, first, and as the kernel resolves it; a mount
 * already there that does not answer is named, not waited on forever.
 */
class MountPointIT {
    @TempDir
    Path tmp;

    Path root;
    Path page;
    List<String> names;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        root = tmp.toRealPath();
        page = root.resolve("page.bin");
        SecretPage secrets = SecretPage.randomLengths(3, 24, 24, 4096);
        secrets.write(page);
        names = secrets.names;
    }

    @Test
    @DisplayName("a mount point given as a symbolic link: mounted at the target, and its dead mount recovered")
    void symlinkedMountPoint() throws Exception {
        Path real = Files.createDirectory(root.resolve("real"));
        Path link = Files.createSymbolicLink(root.resolve("link"), real);
        CocoDaemon first = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, link);
        Process second = null;
        try {
            assertThat(first.log()).contains("at " + real);
            first.kill();
            assertThat(first.isMounted()).as("SIGKILL leaves a dead mount at the target").isTrue();
            // Started by hand: the dead mount fails any look at the link's target (ENOTCONN), toRealPath included.
            Path log = root.resolve("second.log");
            second = CocoDaemon.spawn(page, link.toString(), log);
            CocoDaemon.awaitServing(second, real, log);
            assertThat(Files.readString(log)).contains(real + " holds a dead FUSE mount");
            assertThat(Files.readAllBytes(link.resolve(names.get(0)))).hasSize(24);
            assertThat(CocoDaemon.stop(second)).isZero();
            assertThat(MountTable.at(real)).isEmpty();
        } finally {
            CocoDaemon.cleanUp(second == null ? List.of(first.process) : List.of(first.process, second), real);
            first.close();
        }
    }

    @Test
    @DisplayName("S/../m with S a symbolic link mounts where the kernel resolves it, not where the text says")
    void dotDotAfterASymlink() throws Exception {
        Path sub = Files.createDirectories(root.resolve("elsewhere/sub"));
        Path meant = Files.createDirectory(root.resolve("elsewhere/m"));
        Path textual = Files.createDirectory(root.resolve("m"));
        Files.createSymbolicLink(root.resolve("S"), sub);
        Path given = Path.of(root + "/S/../m");
        assertThat(given.toRealPath()).as("the kernel's reading").isEqualTo(meant);
        try (CocoDaemon daemon = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, given)) {
            assertThat(daemon.log()).contains("at " + meant);
            assertThat(MountTable.at(meant)).isPresent();
            assertThat(MountTable.at(textual)).isEmpty();
            assertThat(daemon.stop()).isZero();
            assertThat(daemon.log()).contains("unmounted " + meant);
        } finally {
            CocoDaemon.cleanUp(List.of(), meant, textual);
        }
    }

    @Test
    @DisplayName("a mount whose daemon is stopped (SIGSTOP): one line saying so, not a silent hang")
    void aStoppedDaemonsMount() throws Exception {
        Path mnt = Files.createDirectory(root.resolve("mnt"));
        Path other = root.resolve("other.bin");
        SecretPage.randomLengths(1, 8, 8, 4096).write(other);
        CocoDaemon stopped = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt);
        try {
            CocoDaemon.signal(stopped.pid(), "STOP");
            Result r = CocoDaemon.run("mount", "--backing", other.toString(), mnt.toString());
            assertThat(r.exit()).as(r.err()).isEqualTo(1);
            assertThat(r.errLines()).singleElement().asString().isEqualTo("coco-secretfs: the fuse.coco-secretfs"
                    + " mount at " + mnt + " does not answer within 5 s: is its daemon stopped?");
            CocoDaemon.signal(stopped.pid(), "CONT");
            assertThat(Files.readAllBytes(mnt.resolve(names.get(1)))).as("the first daemon serves on").hasSize(24);
            assertThat(stopped.stop()).isZero();
        } finally {
            CocoDaemon.cleanUp(List.of(stopped.process), mnt);
            stopped.close();
        }
    }
}
