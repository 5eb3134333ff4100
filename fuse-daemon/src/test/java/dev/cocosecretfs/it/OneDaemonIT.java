// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.platform.ExclusiveLock;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.Result;
import dev.cocosecretfs.testing.SecretPage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One daemon per page and one per mount point, however they are started; and a daemon unmounts only its own mount. */
class OneDaemonIT {
    static final int ROUNDS = 5;
    /** Daemons started together in each round, each on a page of its own. */
    static final int AT_ONCE = 4;

    @TempDir
    Path tmp;

    Path page;
    SecretPage secrets;
    List<String> names;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        page = tmp.resolve("page.bin");
        secrets = SecretPage.randomLengths(4, 32, 32, 4096);
        secrets.write(page);
        names = secrets.names;
    }

    @Test
    @DisplayName("a second daemon on a page another one serves is refused, and the first serves on")
    void onePagePerDaemon() throws Exception {
        Path first = Files.createDirectory(tmp.resolve("first"));
        Path second = Files.createDirectory(tmp.resolve("second"));
        byte[] before = Files.readAllBytes(page);
        try (CocoDaemon serving = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, first)) {
            Result r = CocoDaemon.run("mount", "--backing", page.toString(), second.toString());
            assertThat(r.exit()).as(r.err()).isEqualTo(1);
            assertThat(r.errLines()).singleElement().asString()
                    .isEqualTo("coco-secretfs: backing " + page + " is already served by another coco-secretfs daemon");
            assertThat(MountTable.at(second.toRealPath())).isEmpty();
            assertThat(Files.readAllBytes(first.resolve(names.get(0)))).hasSize(32);
            assertThat(serving.process.isAlive()).isTrue();
        }
        assertThat(Files.readAllBytes(page)).as("the page is as it was").isEqualTo(before);
    }

    @Test
    @DisplayName("daemons started at once on one mount point: one mounts, the others are refused")
    void oneMountPointPerDaemon() throws Exception {
        List<Path> pages = new ArrayList<>();
        for (int i = 0; i < AT_ONCE; i++) {
            // Empty pages: a mount with no secrets is an empty directory, so libfuse's own check that
            // the mount point is empty passes on top of another daemon's mount.
            pages.add(tmp.resolve("page" + i + ".bin"));
            SecretPage.randomLengths(0, 16, 16, 4096).write(pages.get(i));
        }
        for (int round = 0; round < ROUNDS; round++) {
            Path mnt = Files.createDirectory(tmp.resolve("mnt" + round)).toRealPath();
            List<Process> daemons = new ArrayList<>();
            List<Path> logs = new ArrayList<>();
            try {
                for (int i = 0; i < AT_ONCE; i++) {
                    logs.add(tmp.resolve("r" + round + "-" + i + ".log"));
                }
                for (int i = 0; i < AT_ONCE; i++) {
                    daemons.add(CocoDaemon.spawn(pages.get(i), mnt.toString(), logs.get(i)));
                }
                long deadline = System.currentTimeMillis() + CocoDaemon.DEADLINE_MS;
                while (daemons.stream().filter(Process::isAlive).count() != 1 || !CocoDaemon.serving(mnt)) {
                    if (daemons.stream().noneMatch(Process::isAlive)) {
                        throw new AssertionError("all exited: " + Files.readString(logs.get(0)));
                    }
                    if (System.currentTimeMillis() > deadline) {
                        throw new AssertionError("round " + round + ": not exactly one daemon left serving ("
                                + MountTable.all().stream().filter(m -> m.mountPoint().equals(mnt)).count()
                                + " mounts at " + mnt + ")");
                    }
                    Thread.sleep(20);
                }
                int winner = -1;
                for (int i = 0; i < AT_ONCE; i++) {
                    if (daemons.get(i).isAlive()) {
                        winner = i;
                        continue;
                    }
                    assertThat(daemons.get(i).exitValue()).isEqualTo(1);
                    assertThat(Files.readAllLines(logs.get(i))).singleElement().asString()
                            .startsWith("coco-secretfs: mount point " + mnt + " is busy");
                }
                assertThat(MountTable.all().stream().filter(m -> m.mountPoint().equals(mnt))).hasSize(1);

                assertThat(CocoDaemon.stop(daemons.get(winner))).isZero();
                assertThat(Files.readString(logs.get(winner))).contains("coco-secretfs: unmounted " + mnt);
                assertThat(MountTable.at(mnt)).isEmpty();
            } finally {
                CocoDaemon.cleanUp(daemons, mnt);
            }
        }
    }

    @Test
    @DisplayName("a mount point a live daemon serves is refused with one line, and that daemon serves on")
    void aLiveMountIsNotTakenOver() throws Exception {
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (CocoDaemon serving = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
            Result r = CocoDaemon.run("mount", "--backing", page.toString(), mnt.toString());
            assertThat(r.exit()).as(r.err()).isEqualTo(1);
            assertThat(r.errLines()).singleElement().asString()
                    .startsWith("coco-secretfs: mount point " + mnt.toRealPath() + " is busy");
            assertThat(secrets.isSecret(0, Files.readAllBytes(mnt.resolve(names.get(0))))).as("the first serves on")
                    .isTrue();
        }
    }

    @Test
    @DisplayName("a mount point another daemon has claimed, and not mounted on yet, is refused")
    void aClaimedMountPointIsBusy() throws Exception {
        Path mnt = Files.createDirectory(tmp.resolve("mnt")).toRealPath();
        // What a daemon holds from its check of the mount point until it exits: the directory's lock.
        try (ExclusiveLock claim = ExclusiveLock.tryLock(mnt, true).orElseThrow()) {
            Result r = CocoDaemon.run("mount", "--backing", page.toString(), mnt.toString());
            assertThat(r.exit()).as(r.err()).isEqualTo(1);
            assertThat(r.errLines()).singleElement().asString().isEqualTo("coco-secretfs: mount point " + mnt
                    + " is busy: another coco-secretfs daemon is mounting or serving there");
            assertThat(MountTable.at(mnt)).isEmpty();
        } finally {
            CocoDaemon.cleanUp(List.of(), mnt);
        }
    }

    @Test
    @DisplayName("a daemon whose mount another mount covers leaves that mount alone when it stops")
    void onlyOurMountIsUnmounted() throws Exception {
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Path real = mnt.toRealPath();
        CocoDaemon daemon = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt);
        try {
            Process cover = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=64k", "coco-test-cover",
                    real.toString()).inheritIO().start();
            assertThat(cover.waitFor()).as("mount a tmpfs over the daemon's mount").isZero();

            assertThat(daemon.stop()).isZero();
            assertThat(MountTable.at(real)).as("the tmpfs on top is still mounted")
                    .hasValueSatisfying(m -> assertThat(m.type()).isEqualTo("tmpfs"));
            assertThat(daemon.log()).doesNotContain("unmounted " + real)
                    .contains("did not unmount " + real + ": another mount covers ours");
        } finally {
            CocoDaemon.cleanUp(List.of(daemon.process), real);
            daemon.close();
        }
    }
}
