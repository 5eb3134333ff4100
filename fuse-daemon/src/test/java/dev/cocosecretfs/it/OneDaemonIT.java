// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.security.CocoDaemon;
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

    @TempDir
    Path tmp;

    Path page;
    List<String> names;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        page = tmp.resolve("page.bin");
        names = Daemons.page(page, 4, 32, 4096);
    }

    @Test
    @DisplayName("a second daemon on a page another one serves is refused, and the first serves on")
    void onePagePerDaemon() throws Exception {
        Path first = Files.createDirectory(tmp.resolve("first"));
        Path second = Files.createDirectory(tmp.resolve("second"));
        byte[] before = Files.readAllBytes(page);
        try (CocoDaemon serving = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, first)) {
            CocoDaemon.Result r = CocoDaemon.run("mount", "--backing", page.toString(), second.toString());
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
    @DisplayName("two daemons started at once on one mount point: one mounts, the other is refused")
    void oneMountPointPerDaemon() throws Exception {
        Path other = tmp.resolve("other.bin");
        Daemons.page(other, 2, 16, 4096);
        for (int round = 0; round < ROUNDS; round++) {
            Path mnt = Files.createDirectory(tmp.resolve("mnt" + round)).toRealPath();
            Path logA = tmp.resolve("a" + round + ".log");
            Path logB = tmp.resolve("b" + round + ".log");
            Process a = Daemons.start(page, mnt.toString(), logA);
            Process b = Daemons.start(other, mnt.toString(), logB);
            try {
                long deadline = System.currentTimeMillis() + Daemons.DEADLINE_MS;
                while (a.isAlive() == b.isAlive() || !Daemons.serving(mnt)) {
                    if (!a.isAlive() && !b.isAlive()) {
                        throw new AssertionError("both exited: " + Files.readString(logA) + Files.readString(logB));
                    }
                    if (System.currentTimeMillis() > deadline) {
                        throw new AssertionError("round " + round + ": not exactly one daemon left serving ("
                                + MountTable.all().stream().filter(m -> m.mountPoint().equals(mnt)).count()
                                + " mounts at " + mnt + ")");
                    }
                    Thread.sleep(20);
                }
                Process winner = a.isAlive() ? a : b;
                Process loser = a.isAlive() ? b : a;
                Path loserLog = loser == a ? logA : logB;
                Path winnerLog = winner == a ? logA : logB;
                assertThat(loser.exitValue()).isEqualTo(1);
                assertThat(Files.readAllLines(loserLog)).singleElement().asString()
                        .startsWith("coco-secretfs: mount point " + mnt.toRealPath() + " is busy");
                assertThat(MountTable.all().stream().filter(m -> m.mountPoint().equals(mnt))).hasSize(1);

                assertThat(Daemons.stop(winner)).isZero();
                assertThat(Files.readString(winnerLog)).contains("coco-secretfs: unmounted " + mnt.toRealPath());
                assertThat(MountTable.at(mnt)).isEmpty();
            } finally {
                Daemons.cleanUp(List.of(a, b), mnt);
            }
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
            Daemons.cleanUp(List.of(daemon.process), real);
            daemon.close();
        }
    }
}
